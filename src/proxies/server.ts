/**
 * The HTTP side of every proxy: routes, body limits, the chat request's life cycle (upstream call,
 * timeout, client-disconnect abort, error mapping, SSE forwarding) and one log line per request.
 * Provider specifics come in through the `Provider` port.
 *
 * Logs carry method, path (without query), status, duration and an error code; never a key, a
 * header or message content.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyConfig } from './config.js';
import { parseChatRequest } from './openai-wire.js';
import type { ChatRequest } from './openai-wire.js';
import type { CallContext, Provider } from './provider.js';
import { ProxyError, upstreamError } from './proxy-error.js';
import { drainBody, readBody } from './request-body.js';
import { SSE_DONE, SseParser, sseData } from './sse.js';
import { AbortCause, Deadline, readUpstream, readUpstreamBody, sendUpstream, translateRequestError } from './upstream.js';

export type LogFn = (entry: Record<string, unknown>) => void;

export interface ProxyServerOptions {
  config: ProxyConfig;
  provider: Provider;
  /** Undefined when the configured environment variable is unset or empty. */
  apiKey: string | undefined;
  log: LogFn;
}

export interface ProxyServer {
  server: http.Server;
  /** Stops accepting, lets in-flight requests finish, resolves when the last connection is gone. */
  shutdown(): Promise<void>;
}

/** Error bodies from the upstream are read up to this size; beyond it the message is cut. */
const MAX_ERROR_BODY = 64 * 1024;

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const { config, provider, apiKey, log } = opts;
  let stopping = false;

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0]!;
    const note: { error?: string } = {};
    if (stopping) res.setHeader('connection', 'close');
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const entry: Record<string, unknown> = {
        method: req.method,
        path,
        status: res.writableFinished ? res.statusCode : 499,
        ms: Math.round(ms * 10) / 10,
      };
      if (note.error) entry.error = note.error;
      log(entry);
      // A keep-alive connection turns idle only after this; close it then so shutdown can end.
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
    route(req, res, path, note).catch((err: unknown) => {
      if (err instanceof ProxyError) {
        note.error = err.code ?? err.type;
        sendError(res, err);
        return;
      }
      // Only the frames: an exception's message may quote request content.
      note.error = `internal ${(err as Error)?.name ?? ''} ${String((err as Error)?.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ')}`;
      sendError(res, internalError());
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse, path: string, note: { error?: string }): Promise<void> {
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET');
      sendJson(res, 200, { status: stopping ? 'stopping' : 'ok', kind: config.kind, upstreamKey: apiKey !== undefined, models: config.models.length });
      return;
    }
    if (path === '/v1/models') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      sendJson(res, 200, { object: 'list', data: config.models.map((m) => modelObject(config, m.id)) });
      return;
    }
    if (path.startsWith('/v1/models/')) {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!config.models.some((m) => m.id === id)) {
        throw new ProxyError(404, 'not_found_error', 'model_not_found', `model ${JSON.stringify(id)} is not configured on this proxy`);
      }
      sendJson(res, 200, modelObject(config, id));
      return;
    }
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') throw methodNotAllowed('POST');
      await chat(req, res, note);
      return;
    }
    throw new ProxyError(404, 'not_found_error', 'not_found', `no route for ${req.method} ${path}`);
  }

  async function chat(req: IncomingMessage, res: ServerResponse, note: { error?: string }): Promise<void> {
    if (apiKey === undefined) {
      throw new ProxyError(500, 'server_error', 'upstream_key_missing', `the proxy has no upstream API key: ${config.apiKeyEnv} is not set`);
    }
    let body: Buffer;
    try {
      body = await readBody(req, config.maxBodyBytes);
    } catch (err) {
      if (err instanceof ProxyError && err.status === 413) {
        res.setHeader('connection', 'close');
        await drainBody(req);
      }
      throw err;
    }
    const chatReq = parseChatRequest(body);
    const ctx: CallContext = {
      config,
      apiKey,
      model: config.models.find((m) => m.id === chatReq.model),
      now: Math.floor(Date.now() / 1000),
    };
    const call = provider.buildCall(chatReq, ctx);

    const controller = new AbortController();
    const onClientGone = (): void => {
      if (!res.writableFinished) controller.abort(new AbortCause('client_closed'));
    };
    res.once('close', onClientGone);
    const deadline = new Deadline(config.timeoutMs, controller);
    try {
      const upstream = await sendUpstream(call, controller.signal);
      deadline.touch();
      const status = upstream.statusCode ?? 502;
      if (status < 200 || status > 299) {
        const text = await readUpstreamBody(upstream, deadline, controller.signal);
        const detail = provider.errorDetail(text.slice(0, MAX_ERROR_BODY));
        const header = upstream.headers['retry-after'];
        const retryAfter = typeof header === 'string' ? header : detail.retryAfter;
        const err = upstreamError(status, { ...detail, message: scrub(detail.message, apiKey) }, retryAfter);
        throw err;
      }
      if (chatReq.stream === true) {
        await forwardStream(upstream, res, chatReq, ctx, deadline, controller.signal, note);
      } else {
        const text = await readUpstreamBody(upstream, deadline, controller.signal);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new ProxyError(502, 'upstream_error', 'upstream_bad_response', 'the upstream answered with something that is not JSON');
        }
        sendJson(res, 200, provider.response(json, chatReq, ctx));
      }
    } finally {
      deadline.clear();
      res.off('close', onClientGone);
    }
  }

  async function forwardStream(
    upstream: IncomingMessage,
    res: ServerResponse,
    chatReq: ChatRequest,
    ctx: CallContext,
    deadline: Deadline,
    signal: AbortSignal,
    note: { error?: string },
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    const translator = provider.stream(chatReq, ctx);
    const parser = new SseParser();
    const decoder = new TextDecoder('utf-8');
    let sawDone = false;

    // Returns a promise only when the client's buffer is full: reading the upstream then waits.
    const write = (text: string): Promise<void> | undefined => {
      if (text === '' || res.destroyed) return undefined;
      if (res.write(text)) return undefined;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    };
    const emit = (payloads: string[]): string => {
      let out = '';
      for (const p of payloads) out += sseData(p);
      return out;
    };

    try {
      await readUpstream(upstream, deadline, signal, (chunk) => {
        if (sawDone) return;
        let out = '';
        for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (ev.data === '[DONE]') {
            sawDone = true;
            break;
          }
          out += emit(translator.event(ev));
        }
        return write(out);
      });
      let tail = '';
      if (!sawDone) for (const ev of parser.push(decoder.decode()).concat(parser.end())) if (ev.data !== '[DONE]') tail += emit(translator.event(ev));
      tail += emit(translator.end()) + SSE_DONE;
      await write(tail);
      res.end();
    } catch (err) {
      if (sawDone) {
        res.end();
        return;
      }
      const perr = err instanceof ProxyError ? err : isIoError(err, signal) ? translateRequestError(err, signal) : internalError();
      note.error = perr.code ?? perr.type;
      if (perr.code === 'client_closed' || res.destroyed) return;
      // Headers are gone already; OpenAI clients surface an `error` event as a failed request.
      res.end(sseData(JSON.stringify(perr.body())));
    } finally {
      // Only an unfinished body: destroying a complete one would also close the keep-alive socket.
      if (!upstream.complete && !upstream.destroyed) upstream.destroy();
    }
  }

  function shutdown(): Promise<void> {
    stopping = true;
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  return { server, shutdown };
}

function modelObject(config: ProxyConfig, id: string): Record<string, unknown> {
  const m = config.models.find((x) => x.id === id)!;
  const obj: Record<string, unknown> = { id: m.id, object: 'model', created: 0, owned_by: config.kind };
  if (m.name !== undefined) obj.name = m.name;
  if (m.contextWindow !== undefined) obj.context_window = m.contextWindow;
  if (m.maxTokens !== undefined) obj.max_tokens = m.maxTokens;
  return obj;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ProxyError): void {
  if (res.destroyed || err.code === 'client_closed') return;
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, err.status, err.body(), err.headers);
}

/** A socket or abort failure, as opposed to a bug in translation. */
function isIoError(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string';
}

function methodNotAllowed(allow: string): ProxyError {
  return new ProxyError(405, 'invalid_request_error', 'method_not_allowed', `use ${allow}`, { allow });
}

function internalError(): ProxyError {
  return new ProxyError(500, 'server_error', 'internal', 'the proxy failed to handle the request');
}

/** An upstream may echo what it was sent; the key must never travel back to the client. */
function scrub(message: string | undefined, apiKey: string): string | undefined {
  if (message === undefined || apiKey === '') return message;
  return message.split(apiKey).join('***');
}
