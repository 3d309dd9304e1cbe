/**
 * Server-sent events, both directions: an incremental parser for upstream streams (which arrive in
 * arbitrary byte chunks, so an event may be split across reads) and the framing we write back.
 */

export interface SseEvent {
  /** `event:` field; absent for plain `data:` events. */
  event?: string;
  /** The `data:` lines of one event joined by "\n". */
  data: string;
}

export const SSE_DONE = 'data: [DONE]\n\n';

export function sseData(payload: string): string {
  return `data: ${payload}\n\n`;
}

/**
 * Parses the SSE wire format (WHATWG "event stream" rules): lines end in LF, CR or CRLF; a blank
 * line ends an event; lines starting with ":" are comments (keep-alives) and are dropped; an event
 * without data lines is dropped.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  private pendingCr = false;

  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let input = text;
    // A CRLF may be split across chunks: a CR ended the last line, so skip the LF now.
    if (this.pendingCr && input.startsWith('\n')) input = input.slice(1);
    this.pendingCr = false;
    this.buffer += input;

    let start = 0;
    const buf = this.buffer;
    for (let i = 0; i < buf.length; i++) {
      const ch = buf.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.line(buf.slice(start, i), out);
      if (ch === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    return out;
  }

  /** Flushes an event the upstream did not terminate with a blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buffer !== '') this.line(this.buffer, out);
    this.buffer = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const ev: SseEvent = { data: this.data.join('\n') };
        if (this.event !== undefined) ev.event = this.event;
        out.push(ev);
      }
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}
