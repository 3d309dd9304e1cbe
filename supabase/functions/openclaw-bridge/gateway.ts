/**
 * One WebSocket conversation with the gateway per bridge request: connect, answer the challenge,
 * then requests and events until closed. Every failure leaves as a GatewayError whose kind says
 * what the web client should be told (unreachable, timeout, not ready, refused, failed).
 */
import { challengeOf, connect, GatewayRequestError, GatewayRpc, redact, type ClientInfo, type DeviceSigner, type EventFrame } from './protocol.ts';

export type GatewayErrorKind = 'unreachable' | 'timeout' | 'not_ready' | 'rejected' | 'failed';

export class GatewayError extends Error {
  /** The gateway's own code for a refusal (its error's `details.code`), such as AUTH_TOKEN_MISMATCH. */
  readonly reason: string | undefined;
  /**
   * Whether asking again is safe and may succeed: the gateway could not be reached, went away
   * before the connection was set up, or answered that it is not ready. Never after the gateway
   * could have accepted a request (a socket closed while a request waited for its answer).
   */
  readonly retryable: boolean;

  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    readonly retryAfterMs?: number,
    more: { reason?: string; retryable?: boolean } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.reason = more.reason;
    this.retryable = more.retryable ?? false;
  }
}

/** The bridge is a server-side client of the gateway: a backend, not a browser. */
export const BRIDGE_CLIENT: ClientInfo = { id: 'gateway-client', version: '0.1.0', platform: 'deno', mode: 'backend', deviceFamily: 'server' };
/** Read for health, history, agents and skills; write for chat.send. Never admin. */
export const BRIDGE_SCOPES = ['operator.read', 'operator.write'] as const;

export interface GatewayConnection {
  request(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  onEvent(listener: (e: EventFrame) => void): void;
  /** Resolves when the socket closes, with why. */
  closed: Promise<GatewayError>;
  close(): void;
}

export interface OpenOptions {
  url: string;
  token: string;
  device: DeviceSigner;
  /** Aborts at the request's deadline. */
  signal: AbortSignal;
  /** Values never to repeat in a message: the token and the key. */
  secrets: readonly string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fromRequestError(err: GatewayRequestError, secrets: readonly string[]): GatewayError {
  const message = redact(err.message, secrets);
  const reason = typeof err.details.code === 'string' ? err.details.code : undefined;
  // UNAVAILABLE is an answer: the gateway did not take the request, so it may be asked again.
  if (err.code === 'UNAVAILABLE') return new GatewayError('not_ready', message, err.retryAfterMs, { reason, retryable: true });
  if (err.method === 'connect' || /^AUTH_|^DEVICE_|PAIRING/.test(err.code)) return new GatewayError('rejected', message, undefined, { reason });
  return new GatewayError('failed', message, undefined, { reason });
}

/** `connected`: the handshake was done, so requests may have reached the gateway. */
function closeError(code: number, reason: string, opened: boolean, connected: boolean, secrets: readonly string[]): GatewayError {
  const why = redact(reason, secrets);
  const text = `the gateway closed the connection (${code}${why ? `: ${why}` : ''})`;
  if (code === 1008) return new GatewayError('rejected', text);
  const retryable = !connected;
  if (code === 1012 || code === 1013) return new GatewayError('not_ready', text, undefined, { retryable });
  return new GatewayError(opened ? 'failed' : 'unreachable', opened ? text : 'the gateway cannot be reached', undefined, { retryable });
}

export function openGateway(opts: OpenOptions): Promise<GatewayConnection> {
  const { secrets, signal } = opts;
  if (signal.aborted) return Promise.reject(new GatewayError('timeout', 'the request ran out of time before reaching the gateway'));
  let ws: WebSocket;
  try {
    ws = new WebSocket(opts.url);
  } catch {
    return Promise.reject(new GatewayError('unreachable', 'the gateway URL is not a valid WebSocket URL'));
  }
  const rpc = new GatewayRpc((text) => ws.send(text));
  const listeners = new Set<(e: EventFrame) => void>();
  let opened = false;
  let connected = false;
  let resolveClosed!: (e: GatewayError) => void;
  const closed = new Promise<GatewayError>((r) => (resolveClosed = r));

  return new Promise<GatewayConnection>((resolve, reject) => {
    let settled = false;
    const fail = (err: GatewayError) => {
      rpc.failAll(err);
      if (!settled) {
        settled = true;
        reject(err);
      }
    };
    const onAbort = () => {
      const err = new GatewayError('timeout', 'the gateway did not answer in time');
      fail(err);
      resolveClosed(err);
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });

    ws.onopen = () => (opened = true);
    ws.onclose = (e: CloseEvent) => {
      signal.removeEventListener('abort', onAbort);
      const err = signal.aborted ? new GatewayError('timeout', 'the gateway did not answer in time') : closeError(e.code, e.reason, opened, connected, secrets);
      fail(err);
      resolveClosed(err);
    };
    // An error is always followed by close, which says what happened.
    ws.onerror = () => {};
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data !== 'string') return;
      const frame = rpc.handle(e.data);
      if (!frame) return;
      const challenge = challengeOf(frame);
      if (challenge && !settled) {
        connect(rpc, challenge, { client: BRIDGE_CLIENT, role: 'operator', scopes: BRIDGE_SCOPES, token: opts.token, device: opts.device, userAgent: 'openclaw-bridge/0.1.0' }).then(
          () => {
            if (settled) return;
            settled = true;
            connected = true;
            resolve({
              async request(method, params = {}) {
                try {
                  const payload = await rpc.request(method, params);
                  return isRecord(payload) ? payload : { value: payload };
                } catch (err) {
                  if (err instanceof GatewayRequestError) throw fromRequestError(err, secrets);
                  throw err;
                }
              },
              onEvent: (l) => void listeners.add(l),
              closed,
              close() {
                signal.removeEventListener('abort', onAbort);
                try {
                  ws.close(1000);
                } catch {
                  // already closing
                }
              },
            });
          },
          (err: unknown) => {
            fail(err instanceof GatewayRequestError ? fromRequestError(err, secrets) : err instanceof GatewayError ? err : new GatewayError('failed', redact(String(err), secrets)));
            try {
              ws.close(1000);
            } catch {
              // already closing
            }
          },
        );
        return;
      }
      for (const l of listeners) l(frame);
    };
  });
}
