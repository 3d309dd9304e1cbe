/**
 * Reaching the gateway while its token is rotated and while it restarts, with no request refused:
 *
 * - During a rotation the bridge holds two tokens, the current one and the next
 *   (OPENCLAW_GATEWAY_TOKEN_NEXT). It presents the one that last worked in this worker first, and
 *   the other only when the gateway answers that the token does not match (AUTH_TOKEN_MISMATCH),
 *   never after any other failure. The gateway counts each mismatch towards its lockout (10 in
 *   60 s from one address) and forgets them at the next success from that address, so a worker
 *   costs one mismatch per switch of the gateway's token.
 * - A gateway that refuses connections, goes away before the connection is set up, or answers that
 *   it is not ready, is asked again with a short backoff, up to the restart wait and within the
 *   request's deadline. Only what the gateway did not take is asked again: a socket that closed
 *   while a request waited for its answer is reported, never replayed.
 * - A gateway draining for a restart still takes connections and `chat.send` for a moment, then
 *   ends the run with an error that asks to try again (RESTART_REFUSALS). When nothing of a reply
 *   came, the message is sent again, with a new idempotency key, to the gateway that comes back,
 *   within the same wait: what OpenClaw asks of its user, done for them. So is a message whose run
 *   OpenClaw ended because it was preparing the agent's model runtime again (RUNTIME_REPREPARED),
 *   as it does for a moment after a config reload.
 */
import { GatewayError, type GatewayConnection, type OpenOptions } from './gateway.ts';
import { RUNTIME_REPREPARED, type EventFrame } from './protocol.ts';

/** The gateway's code for a token it does not take (its connect error's `details.code`). */
export const TOKEN_MISMATCH = 'AUTH_TOKEN_MISMATCH';

/** The tokens this worker holds, and which of them the gateway took last. */
export class GatewayTokens {
  private preferred: string;

  constructor(
    readonly current: string,
    readonly next?: string,
  ) {
    // Until the gateway says otherwise it runs the token it ran when this worker started.
    this.preferred = current;
  }

  /** The tokens to present, in order: the one that last worked first. */
  order(): string[] {
    if (this.next === undefined || this.next === this.current) return [this.current];
    return this.preferred === this.next ? [this.next, this.current] : [this.current, this.next];
  }

  worked(token: string): void {
    this.preferred = token;
  }

  /** The gateway said `token` does not match: later requests start with the other one. */
  refused(token: string): void {
    if (this.next === undefined) return;
    this.preferred = token === this.current ? this.next : this.current;
  }
}

/** Which token a connection presented, by role (never the value). */
export type TokenRole = 'current' | 'next';

/** Opens a connection with the first token, then the other only when the gateway said the first does not match. */
export async function openWithTokens(
  open: (opts: OpenOptions) => Promise<GatewayConnection>,
  opts: Omit<OpenOptions, 'token'>,
  tokens: GatewayTokens,
  seen: { mismatches: number; token?: TokenRole } = { mismatches: 0 },
): Promise<GatewayConnection> {
  const order = tokens.order();
  for (let i = 0; ; i++) {
    const token = order[i]!;
    try {
      const gw = await open({ ...opts, token });
      tokens.worked(token);
      seen.token = token === tokens.current ? 'current' : 'next';
      return gw;
    } catch (err) {
      if (err instanceof GatewayError && err.reason === TOKEN_MISMATCH && i + 1 < order.length) {
        tokens.refused(token);
        seen.mismatches++;
        continue;
      }
      throw err;
    }
  }
}

export interface RideOutOptions {
  signal: AbortSignal;
  /** No new attempt starts after this time (ms since the epoch). */
  until: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Called before each new attempt, with the failure that caused it. */
  onRetry?: (err: GatewayError, attempt: number) => void;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2_000;

/** The wait before attempt `n + 1`: doubling from FIRST_DELAY_MS up to MAX_DELAY_MS. */
export const backoffMs = (n: number): number => Math.min(FIRST_DELAY_MS * 2 ** Math.max(0, n - 1), MAX_DELAY_MS);

/**
 * How OpenClaw 2026.9.6 ends a run it turned away for a restart. A gateway draining for a restart
 * ends a run it took just before with GatewayDrainingError (sent as `GatewayDrainingError: <message>`
 * or the message alone); a run the restart cut off, or whose queue the restart cleared, ends with
 * the text it shows a user in that case, which asks to try again in a few seconds
 * (RESTART_LIFECYCLE_REPLY_TEXT, for GatewayDrainingError, aborted_for_restart and
 * CommandLaneClearedError alike). Neither has an error kind of its own.
 */
export const RESTART_REFUSALS = ['Gateway is draining; new tasks are not accepted', 'Gateway is restarting. Please wait a few seconds and try again.'] as const;

/**
 * A `chat` event that ends run `runId` with an answer that asks to try again: the gateway turned it
 * away for a restart, or while it prepared the agent's model runtime again.
 */
export function turnedAway(e: EventFrame, sessionKey: string, runId: string): boolean {
  const p = e.payload;
  if (e.event !== 'chat' || p.state !== 'error' || p.sessionKey !== sessionKey || p.runId !== runId || typeof p.errorMessage !== 'string') return false;
  const message = p.errorMessage;
  return RESTART_REFUSALS.some((r) => message.includes(r)) || RUNTIME_REPREPARED.test(message);
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs `attempt`, and again after each retryable gateway failure while time allows; the last failure is thrown. */
export async function rideOut<T>(attempt: () => Promise<T>, opts: RideOutOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof GatewayError) || !err.retryable || opts.signal.aborted) throw err;
      // The gateway's own retry hint is followed, within the backoff's ceiling.
      const wait = Math.min(Math.max(backoffMs(n), err.retryAfterMs ?? 0), MAX_DELAY_MS);
      if (now() + wait >= opts.until) throw err;
      opts.onRetry?.(err, n);
      await sleep(wait, opts.signal);
      if (opts.signal.aborted) throw err;
    }
  }
}
