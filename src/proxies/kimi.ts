/**
 * Kimi (Moonshot) adapter: a pass-through to Moonshot's chat-completions (`{upstream}/chat/completions`,
 * Bearer key) through the shared OpenAI-compatible dialect machinery. Moonshot validates strictly:
 *
 * - Sampling: a model's `sampling` rules from the provider config (sampling.ts) decide. Kimi K2.5
 *   fixes every sampling parameter: temperature 1 with thinking and 0.6 without, top_p 0.95, n 1,
 *   both penalties 0; any other value is a 400 ("invalid temperature: only 1 is allowed for this
 *   model"). Source: https://platform.kimi.ai/docs/api/models-overview ("Parameter Comparison").
 *   A model that declares nothing gets the guide's older rule, temperature 0.001–0.999, where OpenAI
 *   takes 0–2: the value is clamped, not rescaled (0.2 stays 0.2, 1–2 become 0.999; rescaling t/2
 *   would halve every common setting).
 * - n: at most 5, and 1 when the temperature is at the floor ("When temperature is close to 0, n
 *   can only be 1", same page).
 * - tool_choice naming a function, on a model that thinks: with thinking on, Moonshot takes only
 *   "auto" or "none" and answers a named function with a 400 ("tool_choice 'specified' is
 *   incompatible with thinking enabled"). The request turns thinking off instead
 *   (`thinking: {type: "disabled"}`, https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model),
 *   so the forced call happens; the sampling rules then follow the non-thinking mode.
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
import { applySampling, switchesThinking } from './sampling.js';
import type { Sampling } from './sampling.js';

const KIMI_TEMPERATURE_MIN = 0.001;
const KIMI_MAX_N = 5;

/**
 * For a model whose config declares no sampling. Moonshot's range there is [0, 1] (BerriAI/litellm
 * litellm/llms/moonshot/chat/transformation.py: "`temperature` on KIMI API is [0, 1]"); the clamp
 * stays inside it, off the ends the older guide ruled out.
 */
export const KIMI_DEFAULT_SAMPLING: Sampling = { temperature: { min: KIMI_TEMPERATURE_MIN, max: 0.999 } };

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
    let thinking = (body.thinking as { type?: string } | undefined)?.type !== 'disabled';
    const forcedTool = typeof body.tool_choice === 'object' && body.tool_choice !== null;
    if (forcedTool && thinking && switchesThinking(ctx.model?.sampling)) {
      body.thinking = { type: 'disabled' };
      thinking = false;
    }
    applySampling(body, ctx.model?.sampling ?? KIMI_DEFAULT_SAMPLING, thinking);
    if (typeof body.n === 'number') {
      body.n = Math.min(KIMI_MAX_N, Math.max(1, Math.trunc(body.n)));
      if (body.temperature === KIMI_TEMPERATURE_MIN) body.n = 1;
    }
    const hasLimit = typeof body.max_tokens === 'number' || typeof body.max_completion_tokens === 'number';
    if (!hasLimit && ctx.model?.maxTokens !== undefined) body.max_tokens = ctx.model.maxTokens;
    if (body.tool_choice === 'required') body.tool_choice = 'auto';
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
