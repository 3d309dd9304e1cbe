/**
 * The bridge's request handler: CORS, the route, the caller's Supabase user, then one gateway
 * conversation per request. What each endpoint returns is a projection of the gateway's answer
 * that leaves out host paths and internals; chat is streamed as server-sent events.
 *
 * Session keys: a web user names a session with a short label (`sessionKey`, default `main`); the
 * gateway sees `agent:<agent>:bridge:<user id>:<label>`, so one user can neither read nor write
 * another user's sessions whatever label they send.
 */
import { verifyUser } from './auth.ts';
import { DeviceKeyError } from './device.ts';
import { DELTA_WINDOW_MS, type DeltaData } from './events.ts';
import { GatewayError, type GatewayConnection, type OpenOptions } from './gateway.ts';
import { BridgeError, corsHeaders, errorResponse, fromGatewayError, json, ROUTES, routePath, type Endpoint } from './http.ts';
import { countChars, MAX_BODY_BYTES, MAX_MESSAGE_CHARS } from './limits.ts';
import { redact, type DeviceSigner, type EventFrame } from './protocol.ts';
import { abortableSleep, backoffMs, GatewayTokens, openWithTokens, rideOut, turnedAway, type TokenRole } from './reconnect.ts';
import type { Settings, SettingsResult } from './settings.ts';
import { SSE_HEADERS, sseComment } from './sse.ts';
import { ChatProjection, DeltaBuffer, encodeEvent, streamVersion, type StreamVersion, type WireEvent } from './stream.ts';

export interface Deps {
  fetch: typeof fetch;
  openGateway(opts: OpenOptions): Promise<GatewayConnection>;
  device(pem: string): Promise<DeviceSigner>;
  /** One structured line per request; never given a secret value. */
  log(entry: Record<string, unknown>): void;
}

const LABEL = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const KEEPALIVE_MS = 15_000;
/** Margin before the deadline at which a still-running chat is stopped and the stream ended. */
const CHAT_MARGIN_MS = 1_500;
/** No new attempt at a restarting gateway this close to the deadline: the answer needs the time. */
const RETRY_MARGIN_MS = 5_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function label(value: unknown, where: string): string {
  if (value === undefined || value === null || value === '') return 'main';
  if (typeof value !== 'string' || !LABEL.test(value)) {
    throw new BridgeError(400, 'invalid_request', `${where}: expected a session label of 1–64 characters a-z, 0-9, _ and - (starting with a letter or digit)`);
  }
  return value;
}

const tooLarge = () =>
  new BridgeError(413, 'payload_too_large', `The body may be at most ${MAX_BODY_BYTES} bytes, room for a message of ${MAX_MESSAGE_CHARS} characters in any script.`);

/** The body as text: at most MAX_BODY_BYTES, counted as they arrive (a declared length is not trusted), and UTF-8. */
async function readJsonBody(req: Request): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BridgeError(400, 'invalid_request', 'The body must be UTF-8.');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BridgeError(400, 'invalid_request', 'The body must be JSON: {"message": "...", "sessionKey": "..."}.');
  }
  if (!isRecord(body)) throw new BridgeError(400, 'invalid_request', 'The body must be a JSON object.');
  return body;
}

export function createHandler(result: SettingsResult, deps: Deps): (req: Request) => Promise<Response> {
  // The key's base64 lines are what could leak piecemeal, beside the whole PEM and the tokens.
  const secrets = result.ok
    ? [
        result.settings.gatewayToken,
        ...(result.settings.gatewayTokenNext ? [result.settings.gatewayTokenNext] : []),
        result.settings.deviceKeyPem,
        ...result.settings.deviceKeyPem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')),
      ]
    : [];
  // Per worker: which token the gateway took last carries over to the next request.
  const tokens = result.ok ? new GatewayTokens(result.settings.gatewayToken, result.settings.gatewayTokenNext) : null;
  const safe = (text: string) => redact(text, secrets);

  return async (req: Request): Promise<Response> => {
    const started = Date.now();
    const path = routePath(new URL(req.url).pathname);
    const entry: Record<string, unknown> = { method: req.method, path };
    const done = (res: Response, extra: Record<string, unknown> = {}): Response => {
      deps.log({ ...entry, ...extra, status: res.status, ms: Date.now() - started });
      return res;
    };

    if (!result.ok) {
      return done(errorResponse(new BridgeError(503, 'bridge_not_configured', 'The bridge is not configured; its log names what is missing.')), { code: 'bridge_not_configured', problems: result.problems });
    }
    const s = result.settings;
    const cors = corsHeaders(req.headers.get('origin'), s.corsOrigins);
    if (cors === null) return done(errorResponse(new BridgeError(403, 'origin_not_allowed', 'This origin may not call the bridge.')), { code: 'origin_not_allowed' });
    if (req.method === 'OPTIONS') return done(new Response(null, { status: 204, headers: { ...cors, allow: 'GET, POST, OPTIONS' } }));

    const route = ROUTES[path];
    if (!route) return done(errorResponse(new BridgeError(404, 'not_found', `No such endpoint: ${req.method} ${path}`), cors));
    if (req.method !== route.method) {
      return done(errorResponse(new BridgeError(405, 'method_not_allowed', `${path} takes ${route.method}.`, { allow: `${route.method}, OPTIONS` }), cors));
    }
    const deadline = AbortSignal.timeout(s.timeoutMs);
    const deadlineAt = started + s.timeoutMs;
    // Each attempt at the gateway: which token it took, the mismatches on the way, and the retries.
    const seen: { mismatches: number; token?: TokenRole; retries?: number } = { mismatches: 0 };
    const ride = {
      signal: deadline,
      until: Math.min(started + s.restartWaitMs, deadlineAt - RETRY_MARGIN_MS),
      onRetry: (_: unknown, n: number) => void (seen.retries = n),
    };
    const gateway = () => connectGateway(s, deps, deadline, secrets, tokens!, seen);
    const attempts = () => ({ ...(seen.token ? { token: seen.token } : {}), ...(seen.mismatches ? { tokenMismatches: seen.mismatches } : {}), ...(seen.retries ? { retries: seen.retries } : {}) });

    try {
      const user = await verifyUser(req.headers.get('authorization'), { supabaseUrl: s.supabaseUrl, anonKey: s.supabaseAnonKey, fetch: deps.fetch, signal: deadline });
      entry.user = user.id;
      const sessionKeyFor = (l: string) => `agent:${s.agentId}:bridge:${user.id}:${l}`;

      if (route.endpoint === 'chat') {
        const body = await readJsonBody(req);
        const message = body.message;
        if (typeof message !== 'string' || message.trim() === '' || countChars(message) > MAX_MESSAGE_CHARS) {
          throw new BridgeError(400, 'invalid_request', `message: expected a non-empty string of at most ${MAX_MESSAGE_CHARS} characters (Unicode code points: an emoji counts as one)`);
        }
        const l = label(body.sessionKey, 'sessionKey');
        const version = streamVersion(new URL(req.url).searchParams);
        entry.stream = version;
        const sessionKey = sessionKeyFor(l);
        // One key for every attempt: a gateway that did take an earlier one runs the message once.
        const send = (idempotencyKey: string) => rideOut(async () => sendChat(await gateway(), { sessionKey, message, idempotencyKey, deadlineAt }), ride);
        const sent = await send(crypto.randomUUID());
        // The gateway turned the message away (restarting, or preparing the model runtime again): after a
        // pause it goes again, under a new key (the first names a run the gateway refused), unless the
        // restart wait is over.
        const resend = async (n: number): Promise<ChatSent | null> => {
          const wait = backoffMs(n);
          if (Date.now() + wait >= ride.until) return null;
          await abortableSleep(wait, deadline);
          return deadline.aborted ? null : send(crypto.randomUUID());
        };
        return chatStream({ sent, resend, version, sessionKey, label: l, deadlineAt, cors, safe, timeoutMs: s.timeoutMs, finished: (extra) => void deps.log({ ...entry, ...attempts(), ...extra, status: 200, ms: Date.now() - started }) });
      }

      const query = new URL(req.url).searchParams;
      const endpoint = route.endpoint;
      const body = await rideOut(async () => {
        const gw = await gateway();
        try {
          return await answer(endpoint, gw, { agentId: s.agentId, query, sessionKeyFor, started });
        } finally {
          gw.close();
        }
      }, ride);
      return done(json(200, body, cors), attempts());
    } catch (err) {
      const e =
        err instanceof BridgeError
          ? err
          : err instanceof GatewayError
            ? fromGatewayError(err, s.timeoutMs)
            : err instanceof DeviceKeyError
              ? new BridgeError(503, 'bridge_not_configured', 'The bridge\'s device key is unusable; its log says why.')
              : new BridgeError(500, 'internal_error', 'The bridge failed unexpectedly.');
      const detail = err instanceof Error ? safe(err.message) : safe(String(err));
      return done(errorResponse(e, cors), { code: e.code, detail, ...attempts() });
    }
  };
}

async function connectGateway(s: Settings, deps: Deps, signal: AbortSignal, secrets: string[], tokens: GatewayTokens, seen: { mismatches: number; token?: TokenRole }): Promise<GatewayConnection> {
  const device = await deps.device(s.deviceKeyPem);
  return openWithTokens((o) => deps.openGateway(o), { url: s.gatewayUrl, device, signal, secrets }, tokens, seen);
}

/** The non-streaming endpoints: one request (two for the fleet), one JSON answer. */
async function answer(
  endpoint: Exclude<Endpoint, 'chat'>,
  gw: GatewayConnection,
  ctx: { agentId: string; query: URLSearchParams; sessionKeyFor: (l: string) => string; started: number },
): Promise<unknown> {
  switch (endpoint) {
    case 'health': {
      const h = await gw.request('health', {});
      if (h.ok !== true) throw new BridgeError(503, 'gateway_not_ready', 'The OpenClaw gateway reports that it is not healthy.', { 'retry-after': '5' });
      const reload = isRecord(h.configReload) ? str(h.configReload.hotReloadStatus) : undefined;
      return { ok: true, gateway: { ok: true, durationMs: num(h.durationMs) ?? null, hotReload: reload ?? null }, latencyMs: Date.now() - ctx.started };
    }
    case 'history': {
      const l = label(ctx.query.get('sessionKey'), 'sessionKey');
      const rawLimit = ctx.query.get('limit');
      const limit = rawLimit === null ? 50 : Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new BridgeError(400, 'invalid_request', 'limit: expected a whole number from 1 to 200');
      const h = await gw.request('chat.history', { sessionKey: ctx.sessionKeyFor(l), limit });
      const messages = Array.isArray(h.messages) ? h.messages.filter(isRecord) : [];
      return {
        sessionKey: l,
        messages: messages.map((m) => ({
          role: str(m.role) ?? 'unknown',
          content: m.content ?? null,
          timestamp: num(m.timestamp) ?? null,
          ...(str(m.provider) ? { provider: m.provider } : {}),
          ...(str(m.model) ? { model: m.model } : {}),
          ...(str(m.stopReason) ? { stopReason: m.stopReason } : {}),
        })),
        hasMore: h.hasMore === true,
      };
    }
    case 'agents-status': {
      const [list, health] = await Promise.all([gw.request('agents.list', {}), gw.request('health', {})]);
      const live = new Map<string, Record<string, unknown>>();
      for (const a of Array.isArray(health.agents) ? health.agents.filter(isRecord) : []) if (str(a.agentId)) live.set(a.agentId as string, a);
      const agents = (Array.isArray(list.agents) ? list.agents.filter(isRecord) : []).map((a) => {
        const h = live.get(str(a.id) ?? '');
        const model = isRecord(a.model) ? a.model : {};
        const heartbeat = h && isRecord(h.heartbeat) ? h.heartbeat : {};
        const sessions = h && isRecord(h.sessions) ? h.sessions : {};
        return {
          id: str(a.id) ?? '',
          name: str(a.name) ?? str(a.id) ?? '',
          model: { primary: str(model.primary) ?? null, fallbacks: Array.isArray(model.fallbacks) ? model.fallbacks.filter((f) => typeof f === 'string') : [] },
          heartbeat: { enabled: heartbeat.enabled === true, every: str(heartbeat.every) ?? null },
          sessions: num(sessions.count) ?? 0,
        };
      });
      return { ok: health.ok === true, defaultId: str(list.defaultId) ?? null, agents };
    }
    case 'skills': {
      const r = await gw.request('skills.status', { agentId: ctx.agentId });
      const skills = (Array.isArray(r.skills) ? r.skills.filter(isRecord) : []).map((k) => ({
        name: str(k.name) ?? '',
        description: str(k.description) ?? '',
        ...(str(k.emoji) ? { emoji: k.emoji } : {}),
        source: str(k.source) ?? null,
        eligible: k.eligible === true,
        disabled: k.disabled === true,
      }));
      return { agentId: ctx.agentId, skills };
    }
  }
}

/** A message the gateway took: its connection, its run, and the events that came with it. */
interface ChatSent {
  gw: GatewayConnection;
  runId: string;
  /** Hands every event so far, then each one as it comes, to `handle`. */
  listen(handle: (e: EventFrame) => void): void;
}

/**
 * Sends the message. Events are kept from before the answer, as the run's first ones may come
 * first. A failure closes the connection; only the gateway's "not ready" answer may be tried again.
 */
async function sendChat(gw: GatewayConnection, input: { sessionKey: string; message: string; idempotencyKey: string; deadlineAt: number }): Promise<ChatSent> {
  const early: EventFrame[] = [];
  let sink: ((e: EventFrame) => void) | null = null;
  gw.onEvent((e) => (sink ? sink(e) : early.push(e)));
  try {
    const ack = await gw.request('chat.send', {
      sessionKey: input.sessionKey,
      message: input.message,
      idempotencyKey: input.idempotencyKey,
      // The bridge stops the run itself CHAT_MARGIN_MS before the deadline, so the client's stream
      // ends with the bridge's own `error` and the text so far; the gateway's limit is the backstop.
      timeoutMs: Math.max(1_000, input.deadlineAt - Date.now()),
    });
    return {
      gw,
      runId: str(ack.runId) ?? '',
      listen(handle) {
        for (const e of early) handle(e);
        sink = handle;
      },
    };
  } catch (err) {
    gw.close();
    throw err;
  }
}

interface ChatInput {
  sent: ChatSent;
  /** Sends the message again after attempt `n` was turned away (reconnect.ts `turnedAway`); null when time is up. */
  resend(n: number): Promise<ChatSent | null>;
  version: StreamVersion;
  sessionKey: string;
  label: string;
  deadlineAt: number;
  timeoutMs: number;
  cors: Record<string, string>;
  safe(text: string): string;
  finished(extra: Record<string, unknown>): void;
}

/**
 * Streams the run the gateway took, in the form the client asked for (stream.ts). The stream opens
 * only once the gateway accepted the message, so connection failures still get a JSON error and a
 * status. It ends with `done` when a `chat` event is final, error or aborted; or with `error` when
 * the gateway goes away or the deadline comes first. A run the gateway turned away before any of its
 * reply came, with an answer that asks to try again (a restart, a model runtime prepared again), is
 * not the end: the message goes again, to the gateway that comes back, and the stream goes on with
 * that run (reconnect.ts).
 */
async function chatStream(input: ChatInput): Promise<Response> {
  const { sessionKey } = input;
  let sent = input.sent;
  let sentAgain = 0;
  /** Between a drain's refusal and the run sent again, the refused run's socket closing is expected. */
  let resending = false;

  const run = new ChatProjection(input.version, sent.runId, sessionKey, input.label, input.safe);
  let finish: (extra: Record<string, unknown>) => void = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const send = (e: WireEvent | null) => {
        if (e && !closed) controller.enqueue(encodeEvent(e));
      };
      // v2 deltas wait up to DELTA_WINDOW_MS to go out as one; any other event sends them first.
      const deltas = new DeltaBuffer();
      let window: ReturnType<typeof setTimeout> | undefined;
      const flush = () => {
        clearTimeout(window);
        window = undefined;
        send(deltas.take());
      };
      const emit = (e: WireEvent) => {
        if (e.event === 'delta') {
          if (deltas.add(e.data as DeltaData)) flush();
          else window ??= setTimeout(flush, DELTA_WINDOW_MS);
          return;
        }
        flush();
        send(e);
      };
      const keepalive = setInterval(() => !closed && controller.enqueue(sseComment('keepalive')), KEEPALIVE_MS);
      const stopAt = setTimeout(() => {
        emit(run.cut('gateway_timeout', `No final reply within ${Math.round(input.timeoutMs / 1000)} s; the run was stopped.`));
        sent.gw.request('chat.abort', { sessionKey, runId: sent.runId }).catch(() => {});
        finish({ outcome: 'timeout' });
      }, Math.max(0, input.deadlineAt - Date.now() - CHAT_MARGIN_MS));
      finish = (extra) => {
        if (closed) return;
        closed = true;
        clearTimeout(window);
        clearInterval(keepalive);
        clearTimeout(stopAt);
        sent.gw.close();
        try {
          controller.close();
        } catch {
          // the client already went away
        }
        const m = run.model;
        input.finished({ runId: sent.runId, model: m ? `${m.provider}/${m.model}` : null, fallbacks: run.fallbacks.length, ...(sentAgain ? { sentAgain } : {}), ...extra });
      };
      const gone = (err: GatewayError) => {
        if (closed) return;
        const e = fromGatewayError(err, input.timeoutMs);
        emit(run.cut(e.code, e.message));
        finish({ outcome: 'gateway_closed', code: e.code });
      };

      const handle = (e: EventFrame) => {
        if (closed) return;
        if (run.silent && turnedAway(e, sessionKey, sent.runId)) {
          void again(e);
          return;
        }
        for (const out of run.accept(e)) emit(out);
        if (run.state) finish({ outcome: run.state });
      };
      /** Follows `next`: its events, and its socket going away. */
      const follow = (next: ChatSent) => {
        sent = next;
        run.rerun(next.runId);
        next.listen(handle);
        void next.gw.closed.then((err) => next === sent && !resending && gone(err));
      };
      // The run was turned away: the message goes again once the gateway is back, or the refusal ends the stream.
      const again = async (refusal: EventFrame) => {
        resending = true;
        sent.gw.close();
        sentAgain++;
        let next: ChatSent | null;
        try {
          next = await input.resend(sentAgain);
        } catch (err) {
          resending = false;
          if (err instanceof GatewayError) return gone(err);
          next = null;
        }
        resending = false;
        if (closed) {
          // The client went away meanwhile: the run sent for it is stopped too.
          if (next) {
            const { gw, runId } = next;
            gw.request('chat.abort', { sessionKey, runId }).catch(() => {}).finally(() => gw.close());
          }
          return;
        }
        if (next === null) {
          for (const out of run.accept(refusal)) emit(out);
          return finish({ outcome: run.state });
        }
        follow(next);
      };

      emit(run.start());
      follow(sent);
    },
    cancel() {
      // The web client went away: stop the run rather than let it finish for no one.
      sent.gw.request('chat.abort', { sessionKey, runId: sent.runId }).catch(() => {});
      finish({ outcome: 'client_gone' });
    },
  });
  return new Response(stream, { status: 200, headers: { ...SSE_HEADERS, ...input.cors } });
}
