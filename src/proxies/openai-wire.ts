/**
 * The OpenAI chat-completions wire format that every proxy serves to the gateway: the subset of
 * request, response and stream-chunk fields the adapters read or write, and the request check
 * done before any adapter sees a body. Unknown fields are kept on the objects (index signatures)
 * because the OpenAI-compatible adapters forward what they do not know about.
 */
import { badRequest } from './proxy-error.js';

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface ContentPart {
  type: string;
  text?: string;
  image_url?: string | { url: string; detail?: string };
  input_audio?: { data: string; format: string };
  [key: string]: unknown;
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Present on stream deltas only. */
  index?: number;
}

export interface ChatMessage {
  role: Role;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  response_format?: { type: string; json_schema?: { name?: string; schema?: Record<string, unknown> } } | null;
  tools?: ToolDefinition[] | null;
  tool_choice?: ToolChoice | null;
  [key: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [key: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; [key: string]: unknown };
    finish_reason: FinishReason | null;
    logprobs: null;
  }[];
  usage?: Usage;
}

export interface ChunkDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: (ToolCall & { index: number })[];
  [key: string]: unknown;
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: ChunkDelta; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: Usage;
}

/**
 * Parses and checks a client's request body. Only what every adapter relies on is checked here
 * (a JSON object with a model and a non-empty message list); the upstream judges the rest.
 */
export function parseChatRequest(body: Buffer): ChatRequest {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('invalid_json', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('invalid_request', 'request body must be a JSON object');
  }
  const req = value as Record<string, unknown>;
  if (typeof req.model !== 'string' || req.model === '') {
    throw badRequest('invalid_request', "'model' must be a non-empty string");
  }
  if (!Array.isArray(req.messages) || req.messages.length === 0) {
    throw badRequest('invalid_request', "'messages' must be a non-empty array");
  }
  req.messages.forEach((m: unknown, i: number) => {
    if (typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string') {
      throw badRequest('invalid_request', `'messages[${i}]' must be an object with a string 'role'`);
    }
  });
  if (req.stream !== undefined && req.stream !== null && typeof req.stream !== 'boolean') {
    throw badRequest('invalid_request', "'stream' must be a boolean");
  }
  return req as ChatRequest;
}

/** The text of a message's content, whichever form it came in. */
export function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) if (part.type === 'text' && typeof part.text === 'string') text += part.text;
  return text;
}

export function wantsUsage(req: ChatRequest): boolean {
  return req.stream_options?.include_usage === true;
}
