/**
 * The shared pass-through for providers that already speak chat-completions (Mistral, Kimi) but
 * differ in details. A `Dialect` lists what the provider accepts and repairs the rest; this file
 * applies it both ways:
 *
 * Up:   renames (e.g. seed → random_seed), an allowlist of top-level fields (anything else is
 *       dropped, since both providers reject fields they do not know), per-role message fields,
 *       `developer` → `system`, assistant turns with neither text nor tool calls dropped (both
 *       reject empty assistant messages), tool-call ids mapped by `toolIdUp`.
 * Down: message or delta content given as a list of parts is flattened to text (thinking parts
 *       become `reasoning_content`), tool calls get `type` and, in streams, an `index` per distinct
 *       call, ids are mapped by `toolIdDown`, finish reasons are normalised, a chunk without
 *       `choices` gets an empty list. Keep-alive comments never reach the client (the SSE parser
 *       drops them) and the core always ends a stream with `data: [DONE]`.
 */
import type { ProxyKind } from './config.js';
import type { CallContext, ErrorDetail, Provider, StreamTranslator, UpstreamCall } from './provider.js';
import { commonErrorDetail } from './provider.js';
import type { ChatCompletion, ChatMessage, ChatRequest, FinishReason, ToolCall } from './openai-wire.js';
import type { SseEvent } from './sse.js';

export interface Dialect {
  kind: ProxyKind;
  /** Top-level request fields the provider accepts (after renames). */
  fields: ReadonlySet<string>;
  /** OpenAI name → provider name, applied when the provider name is not set already. */
  renames: Readonly<Record<string, string>>;
  /** Fields kept on a message, per role. */
  messageFields: Readonly<Record<'system' | 'user' | 'assistant' | 'tool', ReadonlySet<string>>>;
  toolIdUp(id: string): string;
  toolIdDown(id: string): string;
  /** Provider finish reasons that differ from OpenAI's. */
  finishReasons: Readonly<Record<string, FinishReason>>;
  /** Last repairs on the outgoing request (a copy the dialect may change). */
  request?(body: Record<string, unknown>, ctx: CallContext): void;
  /** Last repairs on one parsed stream chunk. */
  chunk?(chunk: Record<string, unknown>): void;
}

type Json = Record<string, unknown>;

export function toCompatRequest(req: ChatRequest, dialect: Dialect, ctx: CallContext): Json {
  const src: Json = { ...req };
  for (const [from, to] of Object.entries(dialect.renames)) {
    if (src[from] !== undefined && src[from] !== null && src[to] === undefined) src[to] = src[from];
    delete src[from];
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(src)) if (dialect.fields.has(key) && value !== undefined) out[key] = value;
  out.messages = req.messages.flatMap((m) => {
    const repaired = repairMessage(m, dialect);
    return repaired ? [repaired] : [];
  });
  dialect.request?.(out, ctx);
  return out;
}

function repairMessage(m: ChatMessage, dialect: Dialect): Json | null {
  const role = m.role === 'developer' ? 'system' : m.role === 'function' ? 'tool' : m.role;
  const allowed = dialect.messageFields[role as keyof Dialect['messageFields']];
  if (!allowed) return { ...m, role };
  const out: Json = { role };
  for (const [key, value] of Object.entries(m)) if (key !== 'role' && allowed.has(key) && value !== undefined) out[key] = value;
  if (role === 'assistant') {
    const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
    if (calls.length > 0) {
      out.tool_calls = calls.map((c: ToolCall) => ({
        id: dialect.toolIdUp(String(c.id)),
        type: 'function',
        function: { name: c.function?.name, arguments: c.function?.arguments ?? '' },
      }));
    } else {
      delete out.tool_calls;
      if (isEmptyContent(m.content)) return null;
    }
  }
  if (role === 'tool' && typeof m.tool_call_id === 'string') out.tool_call_id = dialect.toolIdUp(m.tool_call_id);
  return out;
}

function isEmptyContent(content: ChatMessage['content']): boolean {
  if (content === null || content === undefined) return true;
  if (typeof content === 'string') return content.trim() === '';
  return content.every((p) => p.type === 'text' && (p.text ?? '').trim() === '');
}

/**
 * Content as a list of parts (Mistral's reasoning models answer that way) → plain text, with
 * thinking parts moved to `reasoning_content`, which is where OpenAI-style clients look for it.
 */
function flattenContent(target: Json): void {
  const content = target.content;
  if (!Array.isArray(content)) return;
  let text = '';
  let reasoning = '';
  for (const part of content as Json[]) {
    if (part.type === 'text' && typeof part.text === 'string') text += part.text;
    else if (part.type === 'thinking') {
      const inner = part.thinking;
      if (typeof inner === 'string') reasoning += inner;
      else if (Array.isArray(inner)) for (const t of inner as Json[]) if (typeof t.text === 'string') reasoning += t.text;
    }
  }
  target.content = text;
  if (reasoning !== '') target.reasoning_content = `${typeof target.reasoning_content === 'string' ? target.reasoning_content : ''}${reasoning}`;
}

function normaliseFinish(choice: Json, dialect: Dialect): void {
  const reason = choice.finish_reason;
  if (typeof reason === 'string' && dialect.finishReasons[reason]) choice.finish_reason = dialect.finishReasons[reason];
}

export function fromCompatResponse(body: unknown, dialect: Dialect): ChatCompletion {
  const out = (typeof body === 'object' && body !== null ? body : {}) as Json;
  out.object ??= 'chat.completion';
  if (!Array.isArray(out.choices)) out.choices = [];
  for (const choice of out.choices as Json[]) {
    const message = (choice.message ?? {}) as Json;
    flattenContent(message);
    if (Array.isArray(message.tool_calls)) {
      message.tool_calls = (message.tool_calls as Json[]).map((c) => ({ ...c, id: dialect.toolIdDown(String(c.id)), type: 'function' }));
    }
    normaliseFinish(choice, dialect);
  }
  return out as unknown as ChatCompletion;
}

export function compatStreamTranslator(dialect: Dialect): StreamTranslator {
  // Per choice: the index given to each tool call id, so calls streamed one per chunk, all marked
  // index 0 (as Mistral does), are not merged into one call by the client. Continuation deltas
  // (no id) follow the upstream's index to the call it started.
  const byId = new Map<number, Map<string, number>>();
  const byUpstreamIndex = new Map<number, Map<unknown, number>>();
  return {
    event(ev: SseEvent): string[] {
      let chunk: Json;
      try {
        chunk = JSON.parse(ev.data) as Json;
      } catch {
        return [];
      }
      if (typeof chunk !== 'object' || chunk === null) return [];
      if (chunk.object === 'error' || (chunk.error !== undefined && chunk.choices === undefined)) {
        const detail = commonErrorDetail(ev.data);
        return [JSON.stringify({ error: { message: detail.message ?? 'upstream stream error', type: 'upstream_error', code: detail.code ?? null } })];
      }
      chunk.object ??= 'chat.completion.chunk';
      if (!Array.isArray(chunk.choices)) chunk.choices = [];
      for (const choice of chunk.choices as Json[]) {
        const index = typeof choice.index === 'number' ? choice.index : 0;
        const delta = (choice.delta ?? {}) as Json;
        choice.delta = delta;
        flattenContent(delta);
        if (Array.isArray(delta.tool_calls)) {
          const ids = byId.get(index) ?? new Map<string, number>();
          const upstreamIndex = byUpstreamIndex.get(index) ?? new Map<unknown, number>();
          byId.set(index, ids);
          byUpstreamIndex.set(index, upstreamIndex);
          delta.tool_calls = (delta.tool_calls as Json[]).map((c) => {
            const call: Json = { ...c };
            if (typeof c.id === 'string' && c.id !== '') {
              let n = ids.get(c.id);
              if (n === undefined) {
                n = ids.size;
                ids.set(c.id, n);
              }
              upstreamIndex.set(c.index, n);
              call.index = n;
              call.id = dialect.toolIdDown(c.id);
              call.type = 'function';
            } else {
              call.index = upstreamIndex.get(c.index) ?? Math.max(0, ids.size - 1);
            }
            return call;
          });
        }
        normaliseFinish(choice, dialect);
      }
      dialect.chunk?.(chunk);
      return [JSON.stringify(chunk)];
    },
    end(): string[] {
      return [];
    },
  };
}

export function compatProvider(dialect: Dialect): Provider {
  return {
    kind: dialect.kind,
    buildCall(req: ChatRequest, ctx: CallContext): UpstreamCall {
      return {
        url: `${ctx.config.upstream}/chat/completions`,
        headers: { authorization: `Bearer ${ctx.apiKey}`, accept: req.stream === true ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(toCompatRequest(req, dialect, ctx)),
      };
    },
    response(body: unknown): ChatCompletion {
      return fromCompatResponse(body, dialect);
    },
    stream(): StreamTranslator {
      return compatStreamTranslator(dialect);
    },
    errorDetail(bodyText: string): ErrorDetail {
      return commonErrorDetail(bodyText);
    },
  };
}
