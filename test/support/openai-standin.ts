/**
 * A stand-in for every OpenAI-compatible LLM upstream, in the test process, on an ephemeral
 * loopback port: `POST …/chat/completions` (streamed as SSE when the request asks for it, as the
 * gateway always does) and `GET …/models`. Every request is recorded. A test decides, per model,
 * whether the upstream answers, rate-limits (429 with a long Retry-After, which makes OpenClaw fall
 * back at once instead of retrying for two minutes), refuses the key (401), serves no such model (404)
 * or stalls (streams its whole reply, then neither finishes nor closes until the caller goes away).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = 'answer' | 'rate-limit' | 'unauthorized' | 'not-found' | 'stall';

export interface UpstreamRequest {
  method: string;
  path: string;
  model: string | null;
  stream: boolean;
  /** SHA-256 of the bearer key it carried (never the key). */
  keySha256: string | null;
  status: number;
}

export interface OpenAIStandin {
  /** Base URL without a path, such as http://127.0.0.1:41234; providers append /v1. */
  url: string;
  requests: UpstreamRequest[];
  /** How the upstream treats a model from now on (default: answer). */
  set(model: string, behaviour: Behaviour): void;
  /** The models GET …/models lists from now on (default: none). */
  serve(models: readonly string[]): void;
  reset(): void;
  /** The text every answer from `model` carries, so a test can tell which model replied. */
  replyText(model: string): string;
  /**
   * From now on `model` answers with `text`, streamed a word to a chunk, until reset; with
   * `charsPerSecond`, at that pace, as a real model streams (by default as fast as it can).
   */
  setReply(model: string, text: string, charsPerSecond?: number): void;
  /**
   * From now on `model` answers as `turn` decides from the request's messages and offered tools,
   * until reset: with text, or by calling one of the offered tools (OpenAI's streamed `tool_calls`
   * form, https://platform.openai.com/docs/api-reference/chat-streaming), so a test can make the
   * agent use its tools.
   */
  script(model: string, turn: ScriptedTurn): void;
  close(): Promise<void>;
}

export interface ChatRequest {
  messages: { role: string; content?: unknown; tool_call_id?: string }[];
  /** The names of the tools the request offers the model. */
  tools: string[];
}

export type ScriptedTurn = (req: ChatRequest) => { text: string } | { tool: string; arguments: Record<string, unknown> };

/** A message's content as text (OpenAI allows a string or a list of parts). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
  return '';
}

const digest = (s: string | undefined) => (s ? createHash('sha256').update(s).digest('hex') : null);

export async function startOpenAIStandin(): Promise<OpenAIStandin> {
  const behaviour = new Map<string, Behaviour>();
  let listed: readonly string[] = [];
  const requests: UpstreamRequest[] = [];
  const replies = new Map<string, { text: string; charsPerSecond?: number }>();
  const scripts = new Map<string, ScriptedTurn>();
  const replyText = (model: string) => replies.get(model)?.text ?? `stand-in reply from ${model}`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      let body: { model?: unknown; stream?: unknown; messages?: unknown; tools?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof body;
      } catch {
        // recorded with no model
      }
      const model = typeof body.model === 'string' ? body.model : null;
      const stream = body.stream === true;
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const record = (status: number) => requests.push({ method: req.method ?? '', path, model, stream, keySha256: digest(key), status });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        record(status);
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };

      if (req.method === 'GET' && path.endsWith('/models')) {
        // OpenAI's list shape (https://platform.openai.com/docs/api-reference/models/list).
        json(200, { object: 'list', data: listed.map((id) => ({ id, object: 'model', created: 0, owned_by: 'stand-in' })) });
        return;
      }
      if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
        json(404, { error: { message: `the stand-in has no ${req.method} ${path}` } });
        return;
      }
      const how = (model && behaviour.get(model)) ?? 'answer';
      if (how === 'rate-limit') {
        json(429, { error: { message: 'rate limited (stand-in)', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }, { 'retry-after': '120' });
        return;
      }
      if (how === 'unauthorized') {
        json(401, { error: { message: 'invalid API key (stand-in)', type: 'invalid_request_error', code: 'invalid_api_key' } });
        return;
      }
      if (how === 'not-found') {
        // OpenAI's answer for a model it does not serve (https://platform.openai.com/docs/guides/error-codes):
        // 404, code model_not_found. Groq, Cerebras and OpenRouter answer the same way.
        json(404, { error: { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', param: null, code: 'model_not_found' } });
        return;
      }
      const scripted = model ? scripts.get(model) : undefined;
      const turn = scripted?.({
        messages: Array.isArray(body.messages) ? (body.messages as ChatRequest['messages']) : [],
        tools: Array.isArray(body.tools) ? body.tools.map((t: { function?: { name?: unknown } }) => String(t?.function?.name ?? '')) : [],
      });
      const text = turn && 'text' in turn ? turn.text : replyText(model ?? 'unknown');
      const id = `chatcmpl-standin-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      if (!stream) {
        const message = turn && 'tool' in turn
          ? { role: 'assistant', content: null, tool_calls: [{ id: `call_${requests.length}`, type: 'function', function: { name: turn.tool, arguments: JSON.stringify(turn.arguments) } }] }
          : { role: 'assistant', content: text };
        json(200, { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: message.content === null ? 'tool_calls' : 'stop' }], usage });
        return;
      }
      record(200);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      const chunk = (delta: unknown, finish: string | null, extra = {}) =>
        send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
      chunk({ role: 'assistant', content: '' }, null);
      if (turn && 'tool' in turn) {
        chunk({ tool_calls: [{ index: 0, id: `call_${requests.length}`, type: 'function', function: { name: turn.tool, arguments: JSON.stringify(turn.arguments) } }] }, null);
        chunk({}, 'tool_calls', { usage });
        res.end('data: [DONE]\n\n');
        return;
      }
      const words = text.split(/(?= )/);
      const end = () => {
        if (how === 'stall') return;
        chunk({}, 'stop', { usage });
        res.end('data: [DONE]\n\n');
      };
      const pace = (model && replies.get(model)?.charsPerSecond) || 0;
      if (!pace) {
        for (const word of words) chunk({ content: word }, null);
        return end();
      }
      // Paced: every 20 ms, the words due by then.
      const started = Date.now();
      let sent = 0;
      let i = 0;
      const tick = () => {
        if (res.destroyed) return;
        const due = ((Date.now() - started) / 1000) * pace;
        while (i < words.length && sent < due) {
          sent += words[i]!.length;
          chunk({ content: words[i++] }, null);
        }
        if (i < words.length) setTimeout(tick, 20);
        else end();
      };
      tick();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set: (model, how) => void behaviour.set(model, how),
    serve: (models) => void (listed = [...models]),
    reset: () => {
      behaviour.clear();
      replies.clear();
      scripts.clear();
    },
    setReply: (model, text, charsPerSecond) => void replies.set(model, { text, ...(charsPerSecond ? { charsPerSecond } : {}) }),
    replyText,
    script: (model, turn) => void scripts.set(model, turn),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
