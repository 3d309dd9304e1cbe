/**
 * The OpenClaw gateway's WebSocket protocol (version 4), transport-free: frames, the signed
 * `connect` handshake and the request/response bookkeeping. Pure TypeScript with no imports and no
 * runtime globals, so the edge function (Deno, WebCrypto) and clawops's smoke checks (Node, `ws`)
 * share this one copy; each brings its own socket and signer.
 *
 * The conversation: the server speaks first with a `connect.challenge` event carrying a nonce and a
 * timestamp; the client answers with a `connect` request carrying the gateway token and a device
 * identity that signs the challenge (the v3 payload below); after `hello-ok` it sends requests
 * (`{type:"req",id,method,params}`) and receives responses (`{type:"res",id,ok,payload|error}`)
 * and events (`{type:"event",event,payload}`).
 */

export const PROTOCOL_VERSION = 4;

export interface ClientInfo {
  /** One of the gateway's known client ids, such as `gateway-client` or `cli`. */
  id: string;
  version: string;
  platform: string;
  /** One of `webchat, cli, ui, backend, node, worker, probe, test`. */
  mode: string;
  deviceFamily: string;
}

/** What a device presents: its id (hex SHA-256 of the raw public key), the key, and a signer. */
export interface DeviceSigner {
  id: string;
  /** base64url of the raw 32-byte Ed25519 public key. */
  publicKey: string;
  /** base64url of the Ed25519 signature over the UTF-8 bytes of `payload`. */
  sign(payload: string): Promise<string>;
}

export interface Challenge {
  nonce: string;
  ts: number;
}

export interface EventFrame {
  type: 'event';
  event: string;
  payload: Record<string, unknown>;
  seq?: number;
}

interface ResFrame {
  type: 'res';
  id: string;
  ok: boolean;
  payload?: unknown;
  error?: { code?: string; message?: string; details?: Record<string, unknown>; retryAfterMs?: number };
}

/** A request the gateway answered with `ok: false`. */
export class GatewayRequestError extends Error {
  constructor(
    readonly method: string,
    /** The gateway's error code, such as UNAVAILABLE, INVALID_REQUEST, AUTH_TOKEN_MISMATCH. */
    readonly code: string,
    message: string,
    /** When the gateway says to retry (startup not finished), in milliseconds. */
    readonly retryAfterMs?: number,
    /** The error's structured details, such as `{ code: 'PAIRING_REQUIRED', requestId }`. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${method}: ${code}: ${message}`);
    this.name = 'GatewayRequestError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one text frame; anything that is not a response or an event is dropped. */
export function parseFrame(text: string): EventFrame | ResFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  if (value.type === 'event' && typeof value.event === 'string') {
    return { type: 'event', event: value.event, payload: isRecord(value.payload) ? value.payload : {}, ...(typeof value.seq === 'number' ? { seq: value.seq } : {}) };
  }
  if (value.type === 'res' && typeof value.id === 'string') {
    return { type: 'res', id: value.id, ok: value.ok === true, payload: value.payload, ...(isRecord(value.error) ? { error: value.error as ResFrame['error'] } : {}) };
  }
  return null;
}

export function challengeOf(frame: EventFrame): Challenge | null {
  if (frame.event !== 'connect.challenge') return null;
  const { nonce, ts } = frame.payload;
  return typeof nonce === 'string' && typeof ts === 'number' ? { nonce, ts } : null;
}

/**
 * The string a device signs to answer a challenge (v3): it binds the device to this client, role,
 * scopes, token and nonce, so a captured signature is useless for any other connection.
 */
export function deviceAuthPayloadV3(input: {
  deviceId: string;
  client: ClientInfo;
  role: string;
  scopes: readonly string[];
  signedAtMs: number;
  token: string;
  nonce: string;
}): string {
  return [
    'v3',
    input.deviceId,
    input.client.id,
    input.client.mode,
    input.role,
    input.scopes.join(','),
    String(input.signedAtMs),
    input.token,
    input.nonce,
    input.client.platform.trim().toLowerCase(),
    input.client.deviceFamily.trim().toLowerCase(),
  ].join('|');
}

/** Request ids and pending responses over any socket: `send` writes one text frame. */
export class GatewayRpc {
  private next = 0;
  private readonly pending = new Map<string, { method: string; resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly send: (text: string) => void) {}

  request(method: string, params: Record<string, unknown>): Promise<unknown> {
    const id = `r${++this.next}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      try {
        this.send(JSON.stringify({ type: 'req', id, method, params }));
      } catch (err) {
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Settles the response a frame answers; returns the frame when it is an event. */
  handle(text: string): EventFrame | null {
    const frame = parseFrame(text);
    if (!frame) return null;
    if (frame.type === 'event') return frame;
    const p = this.pending.get(frame.id);
    if (!p) return null;
    this.pending.delete(frame.id);
    if (frame.ok) p.resolve(frame.payload);
    else {
      const e = frame.error ?? {};
      const retry = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : typeof e.details?.retryAfterMs === 'number' ? (e.details.retryAfterMs as number) : undefined;
      p.reject(new GatewayRequestError(p.method, e.code ?? 'ERROR', e.message ?? 'request failed', retry, isRecord(e.details) ? e.details : {}));
    }
    return null;
  }

  /** Fails every request still waiting (the socket closed or the deadline passed). */
  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** Answers a challenge with `connect`; resolves with the server's hello. */
export async function connect(
  rpc: GatewayRpc,
  challenge: Challenge,
  opts: { client: ClientInfo; role: string; scopes: readonly string[]; token: string; device: DeviceSigner; userAgent: string },
): Promise<Record<string, unknown>> {
  const payload = deviceAuthPayloadV3({
    deviceId: opts.device.id,
    client: opts.client,
    role: opts.role,
    scopes: opts.scopes,
    signedAtMs: challenge.ts,
    token: opts.token,
    nonce: challenge.nonce,
  });
  const hello = await rpc.request('connect', {
    minProtocol: PROTOCOL_VERSION,
    maxProtocol: PROTOCOL_VERSION,
    client: opts.client,
    role: opts.role,
    scopes: [...opts.scopes],
    caps: [],
    auth: { token: opts.token },
    locale: 'en-US',
    userAgent: opts.userAgent,
    device: { id: opts.device.id, publicKey: opts.device.publicKey, signature: await opts.device.sign(payload), signedAt: challenge.ts, nonce: challenge.nonce },
  });
  return isRecord(hello) ? hello : {};
}

export type ChatTerminalState = 'final' | 'error' | 'aborted';

/** A `chat` event's terminal state, or null while the run goes on. */
export function chatTerminalState(payload: Record<string, unknown>): ChatTerminalState | null {
  const s = payload.state;
  return s === 'final' || s === 'error' || s === 'aborted' ? s : null;
}

/** The text of a chat message payload (`{message:{content:[{type:"text",text}]}}`). */
export function messageText(payload: Record<string, unknown>): string {
  const message = payload.message;
  if (!isRecord(message)) return '';
  const content = message.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((c) => (isRecord(c) && c.type === 'text' && typeof c.text === 'string' ? c.text : '')).join('');
}

/**
 * The model a run is using, from an `agent` event: its lifecycle `model` phase (and the fallback
 * decision events) carry `{provider, model}`. Null for any other event.
 */
export function modelOf(payload: Record<string, unknown>): { provider: string; model: string } | null {
  const data = payload.data;
  if (!isRecord(data)) return null;
  if (payload.stream === 'lifecycle' && data.phase === 'model' && typeof data.provider === 'string' && typeof data.model === 'string') {
    return { provider: data.provider, model: data.model };
  }
  return null;
}

export interface FallbackStep {
  from: string;
  to: string;
  /** Why the model before failed: rate_limit, auth, timeout, … */
  reason: string | null;
}

/**
 * A step down the fallback chain, from an `agent` lifecycle `fallback_step` event (sent when a
 * later model took over). Null for any other event.
 */
export function fallbackStepOf(payload: Record<string, unknown>): FallbackStep | null {
  const data = payload.data;
  if (payload.stream !== 'lifecycle' || !isRecord(data) || data.phase !== 'fallback_step') return null;
  const { fallbackStepFromModel: from, fallbackStepToModel: to, fallbackStepFromFailureReason: reason } = data;
  if (typeof from !== 'string' || typeof to !== 'string') return null;
  return { from, to, reason: typeof reason === 'string' ? reason : null };
}

/** Whether an `agent`/`chat` event belongs to our run: same session, and same run once known. */
export function belongsTo(payload: Record<string, unknown>, sessionKey: string, runId: string | null): boolean {
  if (payload.sessionKey !== sessionKey) return false;
  return runId === null || payload.runId === undefined || payload.runId === runId;
}

/** Replaces every occurrence of each secret in `text` with ***. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

/**
 * OpenClaw's answer to a run that came while it was preparing an agent's model runtime again (after
 * a config reload, a plugin or an auth store change): the run did nothing, and the error asks for a
 * retry (2026.9.6, most messages of PreparedModelRuntimeOwnerNotPublishedError and
 * PreparedModelRuntimePublicationSupersededError).
 */
export const RUNTIME_REPREPARED = /\bprepared [\w -]*?(runtime|registry)\b[\w -]*? (was superseded|was not published|was not committed|made no publication progress)/;
