/**
 * Kimi (Moonshot) adapter: a pass-through to Moonshot's chat-completions (`{upstream}/chat/completions`,
 * Bearer key) through the shared OpenAI-compatible dialect machinery. Moonshot validates strictly:
 *
 * - temperature: Moonshot takes 0.001–0.999 where OpenAI takes 0–2. The scales mean the same thing
 *   where they overlap, so the value is clamped, not rescaled:
 *       t ≤ 0.001 (including 0)   → 0.001   (greedy as Moonshot allows)
 *       0.001 < t < 0.999         → t       (unchanged: 0.2 stays 0.2, 0.7 stays 0.7)
 *       t ≥ 0.999 (OpenAI's 1–2)  → 0.999   (the most random Moonshot allows)
 *   Rescaling (t/2) was rejected: it would halve every common setting (0.7 → 0.35).
 * - n: at most 5, and 1 when the temperature is at the floor (Moonshot rejects n > 1 near 0).
 * - max_tokens: filled from the model's configured `maxTokens` when the client sets no limit,
 *   because Moonshot's own default (1024) cuts answers short.
 * - tool_choice "required" is not supported by Moonshot → "auto".
 * - An assistant tool-call turn without `reasoning_content` gets " " (Moonshot's thinking models
 *   reject the turn otherwise and treat "" as missing), unless the request disables thinking.
 *   A `tool` message without `name` gets the function name of the call it answers (Moonshot's
 *   documented tool-result shape carries it), looked up in the same request.
 * - Fields Moonshot does not document are dropped: store, stream_options, parallel_tool_calls,
 *   logprobs, top_logprobs, user, service_tier, seed, metadata, logit_bias, and the like.
 * - Down: usage that Moonshot puts inside the final choice is copied to the chunk's top level,
 *   where OpenAI clients read it.
 */
import { compatProvider } from './openai-compatible.js';
import type { Dialect } from './openai-compatible.js';

export const KIMI_TEMPERATURE_MIN = 0.001;
export const KIMI_TEMPERATURE_MAX = 0.999;
const KIMI_MAX_N = 5;

/** OpenAI temperature (0–2) → Moonshot's (0.001–0.999); see the module doc. */
export function kimiTemperature(t: number): number {
  return Math.min(KIMI_TEMPERATURE_MAX, Math.max(KIMI_TEMPERATURE_MIN, t));
}

type Json = Record<string, unknown>;

export const kimiDialect: Dialect = {
  kind: 'kimi',
  fields: new Set([
    'model',
    'messages',
    'max_tokens',
    'max_completion_tokens',
    'temperature',
    'top_p',
    'n',
    'presence_penalty',
    'frequency_penalty',
    'response_format',
    'stop',
    'stream',
    'tools',
    'tool_choice',
    'thinking',
    'reasoning_effort',
  ]),
  renames: {},
  messageFields: {
    system: new Set(['content']),
    user: new Set(['content']),
    assistant: new Set(['content', 'name', 'tool_calls', 'partial', 'reasoning_content']),
    tool: new Set(['content', 'tool_call_id', 'name']),
  },
  toolIdUp: (id) => id,
  toolIdDown: (id) => id,
  finishReasons: {},
  request(body: Json, ctx): void {
    if (typeof body.temperature === 'number') body.temperature = kimiTemperature(body.temperature);
    if (typeof body.n === 'number') {
      body.n = Math.min(KIMI_MAX_N, Math.max(1, Math.trunc(body.n)));
      if (body.temperature === KIMI_TEMPERATURE_MIN) body.n = 1;
    }
    const hasLimit = typeof body.max_tokens === 'number' || typeof body.max_completion_tokens === 'number';
    if (!hasLimit && ctx.model?.maxTokens !== undefined) body.max_tokens = ctx.model.maxTokens;
    if (body.tool_choice === 'required') body.tool_choice = 'auto';
    const thinking = (body.thinking as { type?: string } | undefined)?.type !== 'disabled';
    const toolNames = new Map<string, string>();
    for (const m of body.messages as Json[]) {
      if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
        for (const c of m.tool_calls as { id: string; function: { name: string } }[]) toolNames.set(c.id, c.function.name);
        if (thinking && (typeof m.reasoning_content !== 'string' || m.reasoning_content === '')) m.reasoning_content = ' ';
      }
      if (m.role === 'tool' && m.name === undefined && typeof m.tool_call_id === 'string') {
        const name = toolNames.get(m.tool_call_id);
        if (name !== undefined) m.name = name;
      }
    }
  },
  chunk(chunk: Json): void {
    if (chunk.usage !== undefined && chunk.usage !== null) return;
    for (const choice of chunk.choices as Json[]) {
      if (typeof choice.usage === 'object' && choice.usage !== null) {
        chunk.usage = choice.usage;
        delete choice.usage;
        return;
      }
    }
  },
};

export const kimiProvider = compatProvider(kimiDialect);
