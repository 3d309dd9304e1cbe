/** Server-sent events: one `event:` name and one JSON `data:` line per event. */
const encoder = new TextEncoder();

export const sseEvent = (event: string, data: unknown): Uint8Array => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/** A comment line: keeps proxies between the bridge and the browser from closing an idle stream. */
export const sseComment = (text: string): Uint8Array => encoder.encode(`: ${text}\n\n`);

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;
