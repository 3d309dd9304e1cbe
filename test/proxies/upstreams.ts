/**
 * Local stand-ins for the providers' APIs, on 127.0.0.1 and an ephemeral port. A stand-in records
 * every request it receives (method, URL, headers, parsed body, and whether the client went away
 * before the answer was complete) and answers with whatever handler the test installed, in the
 * provider's native shape. The shapes below follow the providers' API documentation.
 */
import http from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
  /** Resolves when the connection closed before the stand-in finished its answer. */
  closedEarly: Promise<void>;
}

export type Handler = (rec: Recorded, res: ServerResponse) => void | Promise<void>;

export interface StandIn {
  /** Base URL without path, e.g. http://127.0.0.1:40123 */
  origin: string;
  requests: Recorded[];
  /** Installs the handler for the following requests. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startStandIn(): Promise<StandIn> {
  const requests: Recorded[] = [];
  let handler: Handler = (_rec, res) => json(res, 500, { error: 'no handler installed' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const closedEarly = new Promise<void>((resolve) => {
        res.once('close', () => {
          if (!res.writableFinished) resolve();
        });
      });
      const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body, closedEarly };
      requests.push(rec);
      Promise.resolve(handler(rec, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    handle(h) {
      handler = h;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on which nothing listens: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
}

/** Gemini's `alt=sse` framing: each GenerateContentResponse as one `data:` line, CRLF-separated. */
export function geminiEvent(res: ServerResponse, body: unknown): void {
  res.write(`data: ${JSON.stringify(body)}\r\n\r\n`);
}

export function openaiEvent(res: ServerResponse, body: unknown): void {
  res.write(`data: ${JSON.stringify(body)}\n\n`);
}

/** A resolvable gate, for a stand-in that must wait until the test says go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

// --- Gemini (generativelanguage.googleapis.com/v1beta) ---

export function geminiText(text: string, finishReason = 'STOP', usage = { promptTokenCount: 11, candidatesTokenCount: 7, totalTokenCount: 18 }) {
  return {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason, index: 0 }],
    usageMetadata: usage,
    modelVersion: 'gemini-2.5-flash',
    responseId: 'resp-abc',
  };
}

export function geminiFunctionCall(name: string, args: Record<string, unknown>) {
  return {
    candidates: [{ content: { role: 'model', parts: [{ functionCall: { name, args } }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, totalTokenCount: 25 },
    modelVersion: 'gemini-2.5-flash',
    responseId: 'resp-fc',
  };
}

export function geminiError(code: number, status: string, message: string) {
  return { error: { code, message, status } };
}

// --- OpenAI-compatible (Mistral, Moonshot) ---

export function compatCompletion(model: string, message: Record<string, unknown>, finishReason = 'stop') {
  return {
    id: 'cmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finishReason }],
    usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
  };
}

export function compatChunk(model: string, delta: Record<string, unknown>, finishReason: string | null = null, extra: Record<string, unknown> = {}) {
  return { id: 'cmpl-s', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finishReason }], ...extra };
}
