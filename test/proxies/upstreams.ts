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

// --- the providers' published request rules, answered the way the real APIs answer them ---

export interface Rejection {
  status: number;
  body: unknown;
}

/** Answers with the rejection when there is one; true when the request was rejected. */
export function reject(res: ServerResponse, rejection: Rejection | null): boolean {
  if (rejection) json(res, rejection.status, rejection.body);
  return rejection !== null;
}

/**
 * Moonshot, for kimi-k2.5. Its sampling is fixed: temperature 1 with thinking and 0.6 without,
 * top_p 0.95, n 1, both penalties 0 (https://platform.kimi.ai/docs/api/models-overview, "Parameter
 * Comparison"); another value is a 400 "invalid temperature: only 1 is allowed for this model".
 * With thinking on, tool_choice must be "auto" or "none": a named function is a 400 "tool_choice
 * 'specified' is incompatible with thinking enabled" (quoted from the API in
 * gitcode.com/tonyliux/oh-my-pi packages/ai/test/issue-827-repro.test.ts). Thinking is on unless `thinking.type` is "disabled"
 * (https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model).
 */
export function moonshotRules(body: any): Rejection | null {
  if (body?.model !== 'kimi-k2.5') return null;
  const thinking = body.thinking?.type !== 'disabled';
  const fixed: Record<string, number> = { temperature: thinking ? 1 : 0.6, top_p: 0.95, n: 1, presence_penalty: 0, frequency_penalty: 0 };
  for (const [param, only] of Object.entries(fixed)) {
    if (body[param] !== undefined && body[param] !== only) {
      return { status: 400, body: { error: { message: `invalid ${param}: only ${only} is allowed for this model`, type: 'invalid_request_error' } } };
    }
  }
  if (thinking && typeof body.tool_choice === 'object' && body.tool_choice !== null) {
    return { status: 400, body: { error: { message: "tool_choice 'specified' is incompatible with thinking enabled", type: 'invalid_request_error' } } };
  }
  return null;
}

/**
 * Mistral: a `user` message straight after a `tool` message is a 400 "Unexpected role 'user' after
 * role 'tool'" (reported against api.mistral.ai in arterm-sedov/cmw-platform-agent and others; the
 * message is Mistral's; the body has Mistral's error shape, `{"object":"error","message","type",
 * "param","code"}`, as in that repository's docs/MISTRAL_TOOL_CALL_ID_FIX.md).
 */
export function mistralRules(body: any): Rejection | null {
  const messages: { role: string }[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = 1; i < messages.length; i++) {
    if (messages[i]!.role === 'user' && messages[i - 1]!.role === 'tool') {
      return {
        status: 400,
        body: { object: 'error', message: "Unexpected role 'user' after role 'tool'", type: 'invalid_request_message_order', param: null, code: '3230' },
      };
    }
  }
  return null;
}

/** Signatures this Gemini stand-in handed out; only these (or Google's placeholder) come back valid. */
export const issuedSignatures = new Set<string>();

/** A Gemini 3 functionCall part, with the thought signature Gemini 3 attaches to it. */
export function gemini3FunctionCall(name: string, args: Record<string, unknown>, model = 'gemini-3-flash-preview') {
  const signature = `sig-${issuedSignatures.size + 1}-${Buffer.from(name).toString('base64')}+/=`;
  issuedSignatures.add(signature);
  return {
    candidates: [{ content: { role: 'model', parts: [{ functionCall: { name, args }, thoughtSignature: signature }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, thoughtsTokenCount: 40, totalTokenCount: 65 },
    modelVersion: model,
    responseId: 'resp-g3',
  };
}

const geminiInvalid = (message: string): Rejection => ({ status: 400, body: geminiError(400, 'INVALID_ARGUMENT', message) });

/**
 * Gemini's checks on a generateContent body for `model`:
 * - Gemini 3: in the current turn (from the last user message with text), the first functionCall
 *   part of each model step must carry the thoughtSignature it came with
 *   (https://ai.google.dev/gemini-api/docs/thought-signatures); the message is the API's own.
 *   `skip_thought_signature_validator` is Google's placeholder for calls Gemini did not make.
 *   The other messages below are paraphrased; the status and the error shape are Gemini's.
 * - thinkingConfig (https://ai.google.dev/gemini-api/docs/thinking): thinkingLevel is for
 *   Gemini 3, thinkingBudget for 2.5, not both; 2.5 Pro cannot turn thinking off (budget 0).
 * - Images: inlineData is base64 data; fileData takes a URI, which may be a public http(s) URL
 *   (https://ai.google.dev/gemini-api/docs/file-input-methods).
 */
export function geminiRules(model: string, body: any): Rejection | null {
  const contents: { role: string; parts: any[] }[] = Array.isArray(body?.contents) ? body.contents : [];
  if (model.startsWith('gemini-3')) {
    let turnStart = 0;
    contents.forEach((c, i) => {
      if (c.role === 'user' && c.parts.some((p) => typeof p.text === 'string')) turnStart = i;
    });
    let position = 0;
    for (const [i, c] of contents.entries()) {
      const calls = c.parts.filter((p) => p.functionCall);
      for (const p of c.parts) {
        position++;
        if (!p.functionCall || i < turnStart || c.role !== 'model' || p !== calls[0]) continue;
        if (p.thoughtSignature === undefined) {
          return geminiInvalid(
            `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${p.functionCall.name}\`, position ${position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
          );
        }
        if (p.thoughtSignature !== 'skip_thought_signature_validator' && !issuedSignatures.has(p.thoughtSignature)) {
          return geminiInvalid('Corrupted thought signature.');
        }
      }
    }
  }
  const thinking = body?.generationConfig?.thinkingConfig;
  if (thinking) {
    if (thinking.thinkingLevel !== undefined && thinking.thinkingBudget !== undefined) {
      return geminiInvalid('You can only set only one of thinking budget and thinking level.');
    }
    if (thinking.thinkingLevel !== undefined && !model.startsWith('gemini-3')) return geminiInvalid('Thinking level is not supported for this model.');
    if (thinking.thinkingBudget === 0 && model.startsWith('gemini-2.5-pro')) return geminiInvalid('Budget 0 is invalid. This model only works in thinking mode.');
  }
  for (const c of contents) {
    for (const p of c.parts) {
      if (p.inlineData && !/^[A-Za-z0-9+/=_-]*$/.test(p.inlineData.data)) return geminiInvalid('Invalid value at \'contents[0].parts[0].inline_data.data\' (TYPE_BYTES), Base64 decoding failed');
      if (p.fileData && !/^(https?|gs):\/\//.test(p.fileData.fileUri ?? '')) return geminiInvalid('Invalid or unsupported file uri');
    }
  }
  return null;
}

/** The model named in a Gemini request path (`/v1beta/models/{model}:generateContent`). */
export function geminiModelOf(url: string): string {
  return decodeURIComponent(/\/models\/([^:/?]+)/.exec(url)?.[1] ?? '');
}
