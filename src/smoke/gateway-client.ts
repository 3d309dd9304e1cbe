/**
 * A Node client for the OpenClaw gateway's WebSocket protocol, for the smoke checks: the `ws`
 * package for the socket, node:crypto for the Ed25519 device identity, and the protocol itself
 * from the edge function's own module (one copy of the handshake for both).
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import {
  belongsTo,
  challengeOf,
  chatTerminalState,
  connect,
  fallbackStepOf,
  GatewayRequestError,
  GatewayRpc,
  messageText,
  modelOf,
  redact,
  type ClientInfo,
  type DeviceSigner,
  type EventFrame,
  type FallbackStep,
} from '../../supabase/functions/openclaw-bridge/protocol.js';

export { GatewayRequestError } from '../../supabase/functions/openclaw-bridge/protocol.js';

/** Why a gateway conversation failed, in words a check can report. */
export type GatewayFailure = 'unreachable' | 'timeout' | 'not-ready' | 'rejected' | 'failed';

export class GatewayClientError extends Error {
  constructor(
    readonly kind: GatewayFailure,
    message: string,
    /** The gateway's pending pairing request for this device, when it refused an unpaired one. */
    readonly pairingRequestId?: string,
  ) {
    super(message);
    this.name = 'GatewayClientError';
  }
}

/** An Ed25519 device identity from a PKCS#8 PEM private key. */
export function deviceFromPem(pem: string): DeviceSigner {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new GatewayClientError('failed', 'the device key is not a PKCS#8 PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new GatewayClientError('failed', `the device key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  // SPKI DER of an Ed25519 key is a fixed 12-byte prefix followed by the raw 32-byte key.
  const raw = createPublicKey(key).export({ type: 'spki', format: 'der' }).subarray(-32);
  return {
    id: createHash('sha256').update(raw).digest('hex'),
    publicKey: raw.toString('base64url'),
    sign: async (payload) => sign(null, Buffer.from(payload, 'utf8'), key).toString('base64url'),
  };
}

export interface GatewayClientOptions {
  /** ws:// or wss:// (http(s):// is accepted and converted). */
  url: string;
  token: string;
  deviceKeyPem: string;
  /** Bound on connecting (socket, challenge, hello). Default 15 s. */
  connectTimeoutMs?: number;
  scopes?: string[];
}

export interface ChatResult {
  runId: string;
  state: 'final' | 'error' | 'aborted';
  text: string;
  /** The model that answered: the last one the run reported. */
  model: { provider: string; model: string } | null;
  /** Every model the run started, in order. A model whose failure the gateway remembers is skipped without being started. */
  models: { provider: string; model: string }[];
  /** The steps down the fallback chain the run reported. */
  fallbacks: FallbackStep[];
  events: number;
}

const CLIENT: ClientInfo = { id: 'cli', version: '0.1.0', platform: 'node', mode: 'probe', deviceFamily: 'server' };

export const wsUrlOf = (url: string) => url.replace(/^http(s?):\/\//, 'ws$1://');

/** One open, authenticated connection. */
export class GatewayClient {
  private readonly listeners = new Set<(e: EventFrame) => void>();
  private readonly closeListeners = new Set<(e: Error) => void>();
  private closed: Error | null = null;

  private constructor(
    private readonly ws: WebSocket,
    private readonly rpc: GatewayRpc,
    private readonly secrets: string[],
    readonly hello: Record<string, unknown>,
  ) {}

  static async open(opts: GatewayClientOptions): Promise<GatewayClient> {
    const device = deviceFromPem(opts.deviceKeyPem);
    const secrets = [opts.token];
    const ws = new WebSocket(wsUrlOf(opts.url), { handshakeTimeout: opts.connectTimeoutMs ?? 15_000 });
    const rpc = new GatewayRpc((text) => ws.send(text));
    let client: GatewayClient | undefined;
    return new Promise<GatewayClient>((resolve, reject) => {
      let settled = false;
      const fail = (err: GatewayClientError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        rpc.failAll(err);
        ws.terminate();
        reject(err);
      };
      const timer = setTimeout(() => fail(new GatewayClientError('timeout', `no hello from the gateway within ${opts.connectTimeoutMs ?? 15_000} ms`)), opts.connectTimeoutMs ?? 15_000);
      ws.on('error', (err: NodeJS.ErrnoException) => fail(new GatewayClientError('unreachable', `cannot reach the gateway: ${err.code ?? redact(err.message, secrets)}`)));
      ws.on('close', (code, reason) => {
        const why = redact(reason.toString('utf8'), secrets);
        const err = new GatewayClientError(code === 1008 ? 'rejected' : code === 1012 || code === 1013 ? 'not-ready' : 'unreachable', `the gateway closed the connection (${code}${why ? `: ${why}` : ''})`);
        if (client) {
          client.closed = err;
          for (const l of client.closeListeners) l(err);
        }
        rpc.failAll(err);
        fail(err);
      });
      ws.on('message', (data: WebSocket.RawData) => {
        const frame = rpc.handle(data.toString());
        if (!frame) return;
        const challenge = challengeOf(frame);
        if (challenge) {
          connect(rpc, challenge, { client: CLIENT, role: 'operator', scopes: opts.scopes ?? ['operator.read', 'operator.write'], token: opts.token, device, userAgent: 'clawops-smoke/0.1.0' }).then(
            (hello) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              client = new GatewayClient(ws, rpc, secrets, hello);
              resolve(client);
            },
            (err: unknown) => {
              if (err instanceof GatewayRequestError && err.details.code === 'PAIRING_REQUIRED') {
                const requestId = typeof err.details.requestId === 'string' ? err.details.requestId : undefined;
                fail(
                  new GatewayClientError(
                    'rejected',
                    `this device (${device.id.slice(0, 12)}) is not paired with the gateway${requestId ? `: approve request ${requestId} on the gateway host (openclaw devices approve ${requestId})` : ''}`,
                    requestId,
                  ),
                );
              } else if (err instanceof GatewayRequestError) {
                fail(new GatewayClientError(err.code === 'UNAVAILABLE' ? 'not-ready' : 'rejected', `connect refused: ${redact(err.message, secrets)}`));
              } else fail(new GatewayClientError('failed', redact(String(err), secrets)));
            },
          );
          return;
        }
        for (const l of client?.listeners ?? []) l(frame);
      });
    });
  }

  async request(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.closed) throw this.closed;
    try {
      return await this.rpc.request(method, params);
    } catch (err) {
      if (err instanceof GatewayRequestError) throw new GatewayClientError(err.code === 'UNAVAILABLE' ? 'not-ready' : 'failed', redact(err.message, this.secrets));
      throw err;
    }
  }

  onEvent(listener: (e: EventFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Sends one message and waits for the run's terminal `chat` event. A bare session name is
   * qualified as the gateway labels its events (`agent:<agent>:<name>`), or they would not match.
   */
  async chat(request: { sessionKey: string; message: string; agentId?: string; timeoutMs: number }): Promise<ChatResult> {
    const input = {
      ...request,
      sessionKey: request.sessionKey.startsWith('agent:') ? request.sessionKey : `agent:${request.agentId ?? 'main'}:${request.sessionKey}`,
    };
    let runId: string | null = null;
    const models: { provider: string; model: string }[] = [];
    const fallbacks: FallbackStep[] = [];
    let events = 0;
    let off = () => {};
    let offClose = () => {};
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<{ state: 'final' | 'error' | 'aborted'; text: string }>((resolve, reject) => {
      timer = setTimeout(() => reject(new GatewayClientError('timeout', `no final reply within ${input.timeoutMs} ms`)), input.timeoutMs);
      const onClose = (err: Error) => reject(err);
      this.closeListeners.add(onClose);
      offClose = () => this.closeListeners.delete(onClose);
      off = this.onEvent((e) => {
        if ((e.event !== 'agent' && e.event !== 'chat') || !belongsTo(e.payload, input.sessionKey, runId)) return;
        events++;
        const m = modelOf(e.payload);
        if (m) models.push(m);
        const step = fallbackStepOf(e.payload);
        if (step && !fallbacks.some((f) => f.from === step.from && f.to === step.to)) fallbacks.push(step);
        const state = e.event === 'chat' ? chatTerminalState(e.payload) : null;
        if (state) resolve({ state, text: messageText(e.payload) || String(e.payload.errorMessage ?? '') });
      });
    });
    try {
      const ack = (await this.request('chat.send', {
        sessionKey: input.sessionKey,
        message: input.message,
        idempotencyKey: randomUUID(),
        ...(input.agentId ? { agentId: input.agentId } : {}),
      })) as { runId?: unknown };
      runId = typeof ack?.runId === 'string' ? ack.runId : null;
      const { state, text } = await done;
      return { runId: runId ?? '', state, text, model: models.at(-1) ?? null, models, fallbacks, events };
    } finally {
      clearTimeout(timer);
      off();
      offClose();
      done.catch(() => {});
    }
  }

  close(): void {
    this.ws.close(1000);
  }
}
