/**
 * Gemini adapter: OpenAI chat-completions ⇄ Gemini's native `models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse`. The key goes in the `x-goog-api-key` header, never the URL.
 *
 * Request:  system/developer messages → `systemInstruction` (all of them, in order: Gemini has one);
 *           user → role `user`, assistant → role `model`, tool results → `functionResponse` parts in
 *           a `user` turn; consecutive turns of one role are merged (Gemini wants them alternating);
 *           temperature/top_p/max_tokens/stop/n/penalties/seed → `generationConfig`;
 *           response_format → responseMimeType (+ responseJsonSchema); tools → functionDeclarations
 *           (with `parametersJsonSchema`, which takes plain JSON Schema); tool_choice →
 *           functionCallingConfig (`required` → ANY).
 * Response: text parts → content, `functionCall` parts → tool_calls (arguments as JSON text),
 *           thought parts are left out; finish reasons STOP→stop, MAX_TOKENS→length, safety-type
 *           reasons→content_filter, any function call→tool_calls; usage from `usageMetadata`.
 *
 * Tool-call ids: Gemini's function calls carry no id (or an optional one), so the proxy makes one
 * up on the way down; on the way up a `tool` message finds its function name by looking its
 * `tool_call_id` up in the earlier assistant turn of the same request, so no state is kept.
 *
 * Thought signatures: Gemini 3 answers a request whose history holds a functionCall part without
 * the `thoughtSignature` it came with with 400 INVALID_ARGUMENT ("Function call is missing a
 * thought_signature in functionCall parts", https://ai.google.dev/gemini-api/docs/thought-signatures).
 * The proxy keeps no state, so the signature travels inside the tool-call id, `<id>__thought__<sig>`,
 * as LiteLLM does (THOUGHT_SIGNATURE_SEPARATOR in BerriAI/litellm
 * litellm/litellm_core_utils/prompt_templates/factory.py), and goes back on the functionCall part.
 * A Gemini 3 call without one (made by another provider before a failover) gets the placeholder
 * Google documents for history it did not produce, `skip_thought_signature_validator`.
 *
 * Thinking: `reasoning_effort` becomes `thinkingConfig`: `thinkingLevel` on Gemini 3, `thinkingBudget`
 * on 2.5 (https://ai.google.dev/gemini-api/docs/thinking), with LiteLLM's mapping
 * (_map_reasoning_effort_to_thinking_level in factory.py; the budgets of litellm/constants.py:
 * minimal 128, low 1024, medium 2048, high 4096, none 0). Thought tokens (`thoughtsTokenCount`) are
 * billed as output, so they count in completion_tokens and prompt + completion = total.
 *
 * Images: a data: URL goes inline; an http(s) URL goes as `fileData.fileUri`, which Gemini fetches
 * itself (https://ai.google.dev/gemini-api/docs/file-input-methods).
 *
 * Errors: a 429 says how long to wait in its `google.rpc.RetryInfo` detail (`retryDelay: "23s"`,
 * https://ai.google.dev/gemini-api/docs/rate-limits, https://cloud.google.com/apis/design/errors);
 * it reaches the client as `Retry-After` in whole seconds.
 */
import { randomBytes } from 'node:crypto';
import type { CallContext, ErrorDetail, Provider, StreamTranslator, UpstreamCall } from './provider.js';
import { commonErrorDetail } from './provider.js';
import type { ChatChunk, ChatCompletion, ChatMessage, ChatRequest, ContentPart, FinishReason, ToolCall, Usage } from './openai-wire.js';
import { contentText, wantsUsage } from './openai-wire.js';
import { badRequest } from './proxy-error.js';
import type { SseEvent } from './sse.js';

// --- Gemini's wire format (the fields this adapter reads or writes) ---

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  generationConfig?: Record<string, unknown>;
  tools?: { functionDeclarations: Record<string, unknown>[] }[];
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
}

interface GeminiCandidate {
  index?: number;
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
}

interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number; totalTokenCount?: number; thoughtsTokenCount?: number; toolUsePromptTokenCount?: number };
  responseId?: string;
  error?: { code?: number; message?: string; status?: string };
}

// --- request ---

export const THOUGHT_SIGNATURE_SEPARATOR = '__thought__';
/** Google's placeholder for a function call Gemini did not make itself (thought-signatures docs, FAQ). */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

export function isGemini3(model: string): boolean {
  return /(^|\/)gemini-3/.test(model);
}

/** A tool-call id that carries its call's thought signature, if there is one. */
export function idWithSignature(id: string, signature: string | undefined): string {
  return signature ? `${id}${THOUGHT_SIGNATURE_SEPARATOR}${signature}` : id;
}

function signatureOf(id: string | undefined): string | undefined {
  const at = id?.indexOf(THOUGHT_SIGNATURE_SEPARATOR) ?? -1;
  return at >= 0 ? id!.slice(at + THOUGHT_SIGNATURE_SEPARATOR.length) || undefined : undefined;
}

export function toGeminiRequest(req: ChatRequest): GeminiRequest {
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();

  const push = (role: GeminiContent['role'], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  req.messages.forEach((m: ChatMessage, i: number) => {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = contentText(m.content);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        push('user', userParts(m.content, i));
        break;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = contentText(m.content);
        if (text !== '') parts.push({ text });
        (m.tool_calls ?? []).forEach((call, j) => {
          const name = call.function?.name;
          if (typeof name !== 'string' || name === '') throw badRequest('invalid_request', `messages[${i}].tool_calls[${j}].function.name is missing`);
          if (typeof call.id === 'string') toolNames.set(call.id, name);
          const part: GeminiPart = { functionCall: { name, args: parseArguments(call.function.arguments, `messages[${i}].tool_calls[${j}]`) } };
          // Of parallel calls only the first carries a signature; the placeholder goes there too.
          const signature = signatureOf(call.id) ?? (j === 0 && isGemini3(req.model) ? SKIP_SIGNATURE : undefined);
          if (signature) part.thoughtSignature = signature;
          parts.push(part);
        });
        push('model', parts);
        break;
      }
      case 'tool':
      case 'function': {
        const name = (m.tool_call_id !== undefined ? toolNames.get(m.tool_call_id) : undefined) ?? m.name;
        if (typeof name !== 'string' || name === '') {
          throw badRequest('invalid_request', `messages[${i}]: tool_call_id ${JSON.stringify(m.tool_call_id)} matches no earlier assistant tool call`);
        }
        push('user', [{ functionResponse: { name, response: toolResponse(contentText(m.content)) } }]);
        break;
      }
      default:
        throw badRequest('invalid_request', `messages[${i}]: unsupported role ${JSON.stringify(m.role)}`);
    }
  });

  const out: GeminiRequest = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system };
  const generationConfig = toGenerationConfig(req);
  if (Object.keys(generationConfig).length > 0) out.generationConfig = generationConfig;

  const functions = (req.tools ?? []).filter((t) => t.type === 'function' && t.function);
  if (functions.length > 0) {
    out.tools = [
      {
        functionDeclarations: functions.map((t) => {
          const decl: Record<string, unknown> = { name: t.function.name };
          if (t.function.description !== undefined) decl.description = t.function.description;
          if (t.function.parameters !== undefined) decl.parametersJsonSchema = t.function.parameters;
          return decl;
        }),
      },
    ];
  }
  const choice = req.tool_choice;
  if (choice === 'none') out.toolConfig = { functionCallingConfig: { mode: 'NONE' } };
  else if (choice === 'auto') out.toolConfig = { functionCallingConfig: { mode: 'AUTO' } };
  else if (choice === 'required') out.toolConfig = { functionCallingConfig: { mode: 'ANY' } };
  else if (typeof choice === 'object' && choice !== null && choice.function?.name) {
    out.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  return out;
}

function toGenerationConfig(req: ChatRequest): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  if (typeof req.temperature === 'number') g.temperature = req.temperature;
  if (typeof req.top_p === 'number') g.topP = req.top_p;
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (typeof max === 'number') g.maxOutputTokens = max;
  if (typeof req.stop === 'string') g.stopSequences = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length > 0) g.stopSequences = req.stop;
  if (typeof req.n === 'number' && req.n !== 1) g.candidateCount = req.n;
  if (typeof req.presence_penalty === 'number') g.presencePenalty = req.presence_penalty;
  if (typeof req.frequency_penalty === 'number') g.frequencyPenalty = req.frequency_penalty;
  if (typeof req.seed === 'number') g.seed = req.seed;
  const thinking = thinkingConfig(req);
  if (thinking) g.thinkingConfig = thinking;
  const format = req.response_format;
  if (format?.type === 'json_object') g.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    if (format.json_schema?.schema) g.responseJsonSchema = format.json_schema.schema;
  }
  return g;
}

const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 128, low: 1024, medium: 2048, high: 4096 };

/**
 * `reasoning_effort` → thinkingConfig. Gemini 3 takes a level (Flash: minimal, low, medium, high;
 * Pro: low, high, and thinking cannot be off); 2.5 takes a budget in tokens (2.5 Pro: 128–32768,
 * never 0; Flash-Lite: 0 or 512–24576).
 */
function thinkingConfig(req: ChatRequest): Record<string, unknown> | undefined {
  const effort = typeof req.reasoning_effort === 'string' ? req.reasoning_effort.toLowerCase() : undefined;
  if (effort === undefined) return undefined;
  const model = req.model;
  if (isGemini3(model)) {
    const flash = model.includes('flash');
    const level: Record<string, string> = flash
      ? { none: 'minimal', minimal: 'minimal', low: 'low', medium: 'medium', high: 'high' }
      : { none: 'low', minimal: 'low', low: 'low', medium: 'high', high: 'high' };
    return level[effort] ? { thinkingLevel: level[effort] } : undefined;
  }
  let budget = THINKING_BUDGET[effort];
  if (budget === undefined) return undefined;
  if (model.includes('pro')) budget = Math.max(128, budget);
  else if (model.includes('flash-lite') && budget > 0) budget = Math.max(512, budget);
  return { thinkingBudget: budget };
}

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic', heif: 'image/heif' };

/** A public image URL as a file reference, the type from the file name when it tells one; null for no URL. */
function imageFile(url: string): GeminiPart | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  const ext = /\.([a-z0-9]+)$/i.exec(parsed.pathname)?.[1]?.toLowerCase();
  const mimeType = ext ? IMAGE_TYPES[ext] : undefined;
  return { fileData: mimeType ? { mimeType, fileUri: url } : { fileUri: url } };
}

function userParts(content: ChatMessage['content'], i: number): GeminiPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) return [];
  return content.map((part: ContentPart, j: number): GeminiPart => {
    if (part.type === 'text') return { text: part.text ?? '' };
    if (part.type === 'image_url') {
      const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
      const m = /^data:([^;,]+);base64,(.*)$/s.exec(url ?? '');
      if (m) return { inlineData: { mimeType: m[1]!, data: m[2]! } };
      const file = imageFile(url ?? '');
      if (file) return file;
      throw badRequest('unsupported_content', `messages[${i}].content[${j}]: Gemini takes images as data: URLs or http(s) URLs`);
    }
    if (part.type === 'input_audio' && part.input_audio) {
      return { inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } };
    }
    throw badRequest('unsupported_content', `messages[${i}].content[${j}]: content type ${JSON.stringify(part.type)} is not supported`);
  });
}

function parseArguments(args: string | undefined, at: string): Record<string, unknown> {
  if (args === undefined || args.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw badRequest('invalid_request', `${at}.function.arguments must be a JSON object`);
}

/** Gemini wants an object; a tool's JSON object result is passed as is, anything else wrapped. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // not JSON: wrap the text
  }
  return { content: text };
}

// --- response ---

const CONTENT_FILTER_REASONS = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE']);

export function finishReason(reason: string | undefined, sawFunctionCall: boolean): FinishReason | null {
  if (reason === undefined || reason === 'FINISH_REASON_UNSPECIFIED') return null;
  if (reason === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER_REASONS.has(reason)) return 'content_filter';
  if (sawFunctionCall) return 'tool_calls';
  return 'stop';
}

export function usageFrom(meta: GeminiResponse['usageMetadata']): Usage | undefined {
  if (!meta) return undefined;
  const prompt = meta.promptTokenCount ?? 0;
  const completion = (meta.candidatesTokenCount ?? 0) + (meta.thoughtsTokenCount ?? 0);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: meta.totalTokenCount ?? prompt + completion };
  if (meta.thoughtsTokenCount) usage.completion_tokens_details = { reasoning_tokens: meta.thoughtsTokenCount };
  return usage;
}

function newCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

/** Text and tool calls of one candidate's parts; thoughts are not part of the answer. */
function readParts(parts: GeminiPart[] | undefined): { text: string; calls: ToolCall[] } {
  let text = '';
  const calls: ToolCall[] = [];
  for (const p of parts ?? []) {
    if (p.thought) continue;
    if (typeof p.text === 'string') text += p.text;
    if (p.functionCall) {
      const id = idWithSignature(p.functionCall.id ?? newCallId(), p.thoughtSignature);
      calls.push({ id, type: 'function', function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) } });
    }
  }
  return { text, calls };
}

function completionId(body: GeminiResponse): string {
  return `chatcmpl-${body.responseId ?? randomBytes(12).toString('base64url')}`;
}

export function fromGeminiResponse(body: GeminiResponse, req: ChatRequest, now: number): ChatCompletion {
  const candidates = body.candidates ?? [];
  const choices: ChatCompletion['choices'] = candidates.map((c, i) => {
    const { text, calls } = readParts(c.content?.parts);
    const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
    if (calls.length > 0) message.tool_calls = calls;
    return { index: c.index ?? i, message, finish_reason: finishReason(c.finishReason ?? 'STOP', calls.length > 0), logprobs: null };
  });
  // A blocked prompt comes back without candidates; say so the way OpenAI clients understand.
  if (choices.length === 0) {
    choices.push({ index: 0, message: { role: 'assistant', content: '' }, finish_reason: body.promptFeedback?.blockReason ? 'content_filter' : 'stop', logprobs: null });
  }
  const out: ChatCompletion = { id: completionId(body), object: 'chat.completion', created: now, model: req.model, choices };
  const usage = usageFrom(body.usageMetadata);
  if (usage) out.usage = usage;
  return out;
}

/** Turns Gemini's SSE events (each a full GenerateContentResponse) into chat.completion.chunks. */
export function geminiStreamTranslator(req: ChatRequest, now: number): StreamTranslator {
  let id: string | undefined;
  let usage: Usage | undefined;
  const started = new Set<number>();
  const toolIndex = new Map<number, number>();
  const finished = new Set<number>();

  const chunk = (choices: ChatChunk['choices']): string =>
    JSON.stringify({ id, object: 'chat.completion.chunk', created: now, model: req.model, choices } satisfies Partial<ChatChunk>);

  return {
    event(ev: SseEvent): string[] {
      let body: GeminiResponse;
      try {
        body = JSON.parse(ev.data) as GeminiResponse;
      } catch {
        return [];
      }
      if (body.error) {
        const detail = commonErrorDetail(ev.data);
        return [JSON.stringify({ error: { message: detail.message ?? 'upstream stream error', type: 'upstream_error', code: detail.code ?? null } })];
      }
      id ??= completionId(body);
      const u = usageFrom(body.usageMetadata);
      if (u) usage = u;
      const out: string[] = [];
      const candidates = body.candidates ?? [];
      if (candidates.length === 0 && body.promptFeedback?.blockReason && !finished.has(0)) {
        finished.add(0);
        out.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'content_filter', logprobs: null }]));
      }
      candidates.forEach((c, i) => {
        const index = c.index ?? i;
        const { text, calls } = readParts(c.content?.parts);
        const delta: ChatChunk['choices'][number]['delta'] = {};
        if (!started.has(index)) {
          started.add(index);
          delta.role = 'assistant';
        }
        if (text !== '') delta.content = text;
        if (calls.length > 0) {
          let n = toolIndex.get(index) ?? 0;
          delta.tool_calls = calls.map((call) => ({ ...call, index: n++ }));
          toolIndex.set(index, n);
        }
        const finish = finishReason(c.finishReason, toolIndex.has(index));
        if (finish) finished.add(index);
        if (Object.keys(delta).length === 0 && !finish) return;
        out.push(chunk([{ index, delta, finish_reason: finish, logprobs: null }]));
      });
      return out;
    },
    end(): string[] {
      const out: string[] = [];
      // A stream cut without a finish reason still has to tell the client it is over.
      for (const index of started) {
        if (!finished.has(index)) out.push(chunk([{ index, delta: {}, finish_reason: toolIndex.has(index) ? 'tool_calls' : 'stop', logprobs: null }]));
      }
      if (wantsUsage(req) && usage) out.push(JSON.stringify({ id, object: 'chat.completion.chunk', created: now, model: req.model, choices: [], usage }));
      return out;
    },
  };
}

// --- the provider ---

function modelPath(model: string): string {
  return encodeURIComponent(model.replace(/^models\//, ''));
}

export const geminiProvider: Provider = {
  kind: 'gemini',
  buildCall(req: ChatRequest, ctx: CallContext): UpstreamCall {
    const method = req.stream === true ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return {
      url: `${ctx.config.upstream}/models/${modelPath(req.model)}:${method}`,
      headers: { 'x-goog-api-key': ctx.apiKey, accept: req.stream === true ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(toGeminiRequest(req)),
    };
  },
  response(body: unknown, req: ChatRequest, ctx: CallContext): ChatCompletion {
    return fromGeminiResponse(body as GeminiResponse, req, ctx.now);
  },
  stream(req: ChatRequest, ctx: CallContext): StreamTranslator {
    return geminiStreamTranslator(req, ctx.now);
  },
  errorDetail(bodyText: string): ErrorDetail {
    const detail = commonErrorDetail(bodyText);
    const delay = retryDelaySeconds(bodyText);
    if (delay !== undefined) detail.retryAfter = String(delay);
    return detail;
  },
};

/** Whole seconds from the error's RetryInfo detail (`"retryDelay": "23.5s"` → 24), if it has one. */
export function retryDelaySeconds(bodyText: string): number | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  if (Array.isArray(body)) body = body[0];
  const details = (body as { error?: { details?: unknown } } | null)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details as { '@type'?: string; retryDelay?: unknown }[]) {
    if (d?.['@type'] !== 'type.googleapis.com/google.rpc.RetryInfo' || typeof d.retryDelay !== 'string') continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay);
    if (m) return Math.ceil(Number(m[1]));
  }
  return undefined;
}
