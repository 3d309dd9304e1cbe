/**
 * The port between the shared proxy core and one provider. An adapter only translates: it builds
 * the upstream request, turns the upstream's answer (whole or streamed) into OpenAI's shape and
 * reads the provider's error bodies. It does no I/O, so all of HTTP, timeouts, aborts, body limits
 * and logging stay in one place (server.ts, upstream.ts).
 */
import type { ModelEntry, ProxyConfig, ProxyKind } from './config.js';
import type { ChatCompletion, ChatRequest } from './openai-wire.js';
import type { SseEvent } from './sse.js';

export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface CallContext {
  config: ProxyConfig;
  apiKey: string;
  /** The configured entry for the requested model, if there is one. */
  model: ModelEntry | undefined;
  /** Seconds since the epoch, for `created`. */
  now: number;
}

export interface StreamTranslator {
  /** One upstream event in, zero or more `data:` payloads (JSON text) out. */
  event(ev: SseEvent): string[];
  /** The upstream stream ended; trailing payloads (the core adds `data: [DONE]` itself). */
  end(): string[];
}

export interface ErrorDetail {
  message?: string;
  code?: string | null;
  /** Seconds to wait, when the body says so (the upstream's Retry-After header wins). */
  retryAfter?: string;
}

export interface Provider {
  kind: ProxyKind;
  /** Throws ProxyError (400) for a request the provider cannot express. */
  buildCall(req: ChatRequest, ctx: CallContext): UpstreamCall;
  /** The upstream's 2xx JSON body, translated. */
  response(body: unknown, req: ChatRequest, ctx: CallContext): ChatCompletion;
  stream(req: ChatRequest, ctx: CallContext): StreamTranslator;
  /** Reads the message and code out of the provider's error body (any shape, maybe not JSON). */
  errorDetail(bodyText: string): ErrorDetail;
}

/**
 * Reads `{"error":{"message","code"|"status"}}`, `{"message"}` and FastAPI's `{"detail":[...]}`,
 * the shapes the three providers use, so each adapter need not repeat it.
 */
export function commonErrorDetail(bodyText: string): ErrorDetail {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    const text = bodyText.trim();
    return text ? { message: text.slice(0, 500) } : {};
  }
  if (Array.isArray(body)) body = body[0]; // Gemini's stream endpoint wraps errors in a list
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const err = (typeof b.error === 'object' && b.error !== null ? b.error : b) as Record<string, unknown>;
  const detail: ErrorDetail = {};
  if (typeof err.message === 'string') detail.message = err.message;
  else if (typeof b.error === 'string') detail.message = b.error;
  else if (typeof err.detail === 'string') detail.message = err.detail;
  else if (Array.isArray(err.detail)) {
    detail.message = err.detail
      .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? ''}`)
      .join('; ');
  }
  const code = [err.code, err.status, err.type].find((c) => typeof c === 'string' && c !== '');
  if (typeof code === 'string') detail.code = code;
  return detail;
}
