/**
 * Mistral adapter: a pass-through to Mistral's chat-completions (`{upstream}/chat/completions`,
 * Bearer key) through the shared OpenAI-compatible dialect machinery, with Mistral's differences:
 *
 * - Mistral answers 422 to fields it does not know, so only its documented fields go up. Dropped:
 *   store, stream_options, logprobs, top_logprobs, user, service_tier, metadata, logit_bias,
 *   modalities, audio, reasoning_effort, and anything else OpenAI adds later. Renamed:
 *   seed → random_seed, max_completion_tokens → max_tokens. `parallel_tool_calls` is kept: Mistral
 *   documents it, and dropping it would silently turn `false` into Mistral's default `true`.
 * - finish_reason `model_length` → `length`.
 * - Tool-call ids: Mistral requires exactly 9 characters [a-zA-Z0-9]. Ids are mapped without any
 *   stored state:
 *     up   (client → Mistral): an id that already has that form is kept as is; any other id
 *          (e.g. OpenAI's `call_…`, or one from another provider after a failover) becomes the first
 *          9 base-62 digits of its SHA-256. The same function maps the assistant's `tool_calls[].id`
 *          and the `tool` message's `tool_call_id`, so they still match each other.
 *     down (Mistral → client): identity. Mistral's ids already have the 9-character form, so
 *          `up(down(id)) === id` and a follow-up `tool` message carries Mistral's own id back.
 *   A collision needs two distinct ids in one conversation to share 9 base-62 digits (1 in 62^9).
 * - Message order: Mistral answers a `user` message right after a `tool` message with a 400
 *   ("Unexpected role 'user' after role 'tool'"), where OpenAI takes it (a client that runs a tool
 *   and then adds the user's next words, or a gateway that appends a user turn to a tool round
 *   trip). An assistant message goes between them, as LiteLLM does to keep roles alternating
 *   (DEFAULT_ASSISTANT_CONTINUE_MESSAGE, "Please continue.", in
 *   BerriAI/litellm litellm/litellm_core_utils/prompt_templates/common_utils.py).
 */
import { createHash } from 'node:crypto';
import { compatProvider } from './openai-compatible.js';
import type { Dialect } from './openai-compatible.js';

const MISTRAL_ID = /^[A-Za-z0-9]{9}$/;
/** Mistral rejects an empty assistant message, so the one put between a tool result and a user turn says something. */
export const ASSISTANT_BETWEEN_TOOL_AND_USER = { role: 'assistant', content: 'Please continue.' } as const;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function toMistralToolCallId(id: string): string {
  if (MISTRAL_ID.test(id)) return id;
  const digest = createHash('sha256').update(id, 'utf8').digest();
  let out = '';
  for (let i = 0; i < 9; i++) out += BASE62[digest[i]! % 62];
  return out;
}

export function fromMistralToolCallId(id: string): string {
  return id;
}

export const mistralDialect: Dialect = {
  kind: 'mistral',
  fields: new Set([
    'model',
    'messages',
    'temperature',
    'top_p',
    'max_tokens',
    'stream',
    'stop',
    'random_seed',
    'response_format',
    'tools',
    'tool_choice',
    'presence_penalty',
    'frequency_penalty',
    'n',
    'prediction',
    'parallel_tool_calls',
    'prompt_mode',
    'safe_prompt',
  ]),
  renames: { seed: 'random_seed', max_completion_tokens: 'max_tokens' },
  messageFields: {
    system: new Set(['content']),
    user: new Set(['content']),
    assistant: new Set(['content', 'tool_calls', 'prefix']),
    tool: new Set(['content', 'tool_call_id', 'name']),
  },
  toolIdUp: toMistralToolCallId,
  toolIdDown: fromMistralToolCallId,
  finishReasons: { model_length: 'length' },
  request(body): void {
    const messages = body.messages as { role: string }[];
    body.messages = messages.flatMap((m, i) => (m.role === 'user' && messages[i - 1]?.role === 'tool' ? [{ ...ASSISTANT_BETWEEN_TOOL_AND_USER }, m] : [m]));
  },
};

export const mistralProvider = compatProvider(mistralDialect);
