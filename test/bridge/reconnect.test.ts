/**
 * How the bridge reaches the gateway through a token rotation and a restart, decision by decision:
 * the next token only after the gateway's explicit token mismatch, the token that worked first
 * afterwards, and a restarting gateway asked again only while nothing could have reached it. The
 * modules are the bridge's own (Deno) source, loaded as they are; the gateway is a fake that
 * answers as OpenClaw 2026.9.6 does (its connect error's `details.code`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { BRIDGE_DIR } from '../support/bridge-process.js';

type Kind = 'unreachable' | 'timeout' | 'not_ready' | 'rejected' | 'failed';
interface GatewayErrorLike extends Error {
  kind: Kind;
  reason?: string;
  retryable: boolean;
}
interface Tokens {
  current: string;
  order(): string[];
}
interface ReconnectModule {
  TOKEN_MISMATCH: string;
  GatewayTokens: new (current: string, next?: string) => Tokens;
  openWithTokens(open: (o: { token: string }) => Promise<unknown>, opts: Record<string, unknown>, tokens: Tokens, seen?: { mismatches: number; token?: string }): Promise<unknown>;
  rideOut<T>(attempt: () => Promise<T>, opts: { signal: AbortSignal; until: number; now?: () => number; sleep?: (ms: number) => Promise<void>; onRetry?: (e: unknown, n: number) => void }): Promise<T>;
}
interface GatewayModule {
  GatewayError: new (kind: Kind, message: string, retryAfterMs?: number, more?: { reason?: string; retryable?: boolean }) => GatewayErrorLike;
}
// Loaded by path: their imports end in .ts, as Deno wants them, which this project's tsc does not follow.
const { TOKEN_MISMATCH, GatewayTokens, openWithTokens, rideOut } = (await import(pathToFileURL(join(BRIDGE_DIR, 'reconnect.ts')).href)) as ReconnectModule;
const { GatewayError } = (await import(pathToFileURL(join(BRIDGE_DIR, 'gateway.ts')).href)) as GatewayModule;

const OLD = 'token-old';
const NEW = 'token-new';
const mismatch = () => new GatewayError('rejected', 'connect: INVALID_REQUEST: unauthorized: gateway token mismatch', undefined, { reason: TOKEN_MISMATCH });

/** A gateway that takes one token; every connect attempt is recorded by the token it carried. */
function gateway(takes: { token: string }) {
  const tried: string[] = [];
  const open = async (o: { token: string }) => {
    tried.push(o.token);
    if (o.token !== takes.token) throw mismatch();
    return { connection: o.token };
  };
  return { tried, open };
}

describe('two tokens during a rotation', () => {
  test('without a next token the current one is all the bridge presents, and a mismatch is the answer', async () => {
    const gw = gateway({ token: NEW });
    const tokens = new GatewayTokens(OLD);
    await assert.rejects(openWithTokens(gw.open, {}, tokens), (e: GatewayErrorLike) => e.reason === TOKEN_MISMATCH);
    assert.deepEqual(gw.tried, [OLD]);
  });

  test('before the gateway restarts, the current token is taken and the next is never shown', async () => {
    const gw = gateway({ token: OLD });
    const tokens = new GatewayTokens(OLD, NEW);
    for (let i = 0; i < 3; i++) await openWithTokens(gw.open, {}, tokens);
    assert.deepEqual(gw.tried, [OLD, OLD, OLD]);
  });

  test('once the gateway runs the new token: one mismatch, then the next token, which later requests present first', async () => {
    const takes = { token: OLD };
    const gw = gateway(takes);
    const tokens = new GatewayTokens(OLD, NEW);
    await openWithTokens(gw.open, {}, tokens);
    takes.token = NEW;
    const seen = { mismatches: 0 } as { mismatches: number; token?: string };
    await openWithTokens(gw.open, {}, tokens, seen);
    assert.deepEqual(seen, { mismatches: 1, token: 'next' });
    for (let i = 0; i < 3; i++) await openWithTokens(gw.open, {}, tokens);
    assert.deepEqual(gw.tried, [OLD, OLD, NEW, NEW, NEW, NEW], 'one mismatch for the whole switch');
  });

  test('a gateway rolled back to the old token: one mismatch, and back to the current one', async () => {
    const takes = { token: NEW };
    const gw = gateway(takes);
    const tokens = new GatewayTokens(OLD, NEW);
    await openWithTokens(gw.open, {}, tokens);
    takes.token = OLD;
    await openWithTokens(gw.open, {}, tokens);
    await openWithTokens(gw.open, {}, tokens);
    assert.deepEqual(gw.tried, [OLD, NEW, NEW, OLD, OLD]);
  });

  test('neither token matches: two attempts, then the mismatch; never a third', async () => {
    const gw = gateway({ token: 'token-other' });
    await assert.rejects(openWithTokens(gw.open, {}, new GatewayTokens(OLD, NEW)), (e: GatewayErrorLike) => e.kind === 'rejected' && e.reason === TOKEN_MISMATCH);
    assert.deepEqual(gw.tried, [OLD, NEW]);
  });

  for (const [what, err] of [
    ['the lockout', new GatewayError('rejected', 'too many failed authentication attempts', 297_000, { reason: 'AUTH_RATE_LIMITED' })],
    ['a device waiting for pairing', new GatewayError('rejected', 'pairing required', undefined, { reason: 'PAIRING_REQUIRED' })],
    ['a refusal without a code', new GatewayError('rejected', 'the gateway closed the connection (1008)')],
    ['a gateway that cannot be reached', new GatewayError('unreachable', 'the gateway cannot be reached', undefined, { retryable: true })],
    ['a gateway that is starting', new GatewayError('not_ready', 'starting', 2_000, { retryable: true })],
    ['the deadline', new GatewayError('timeout', 'the gateway did not answer in time')],
  ] as const) {
    test(`${what} is never answered with the other token`, async () => {
      const tried: string[] = [];
      const open = async (o: { token: string }) => {
        tried.push(o.token);
        throw err;
      };
      await assert.rejects(openWithTokens(open, {}, new GatewayTokens(OLD, NEW)), (e) => e === err);
      assert.deepEqual(tried, [OLD]);
    });
  }
});

describe('riding out a restart', () => {
  /** A clock that moves only when the bridge sleeps. */
  function clock() {
    let t = 1_000_000;
    const slept: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept, at: () => t };
  }
  const signal = new AbortController().signal;

  test('refused, then starting, then up: the request succeeds, with backoff between attempts', async () => {
    const c = clock();
    const answers = [
      new GatewayError('unreachable', 'the gateway cannot be reached', undefined, { retryable: true }),
      new GatewayError('unreachable', 'the gateway cannot be reached', undefined, { retryable: true }),
      new GatewayError('not_ready', 'starting', 1_500, { retryable: true }),
    ];
    let calls = 0;
    const retries: number[] = [];
    const out = await rideOut(
      async () => {
        const a = answers[calls++];
        if (a) throw a;
        return 'ok';
      },
      { signal, until: c.at() + 60_000, now: c.now, sleep: c.sleep, onRetry: (_, n) => retries.push(n) },
    );
    assert.equal(out, 'ok');
    assert.equal(calls, 4);
    assert.deepEqual(retries, [1, 2, 3]);
    // 250 ms, doubling; the gateway's own hint of 1.5 s is followed.
    assert.deepEqual(c.slept, [250, 500, 1_500]);
  });

  test('a gateway that stays down is reported once the restart wait is over, with its own failure', async () => {
    const c = clock();
    const down = new GatewayError('unreachable', 'the gateway cannot be reached', undefined, { retryable: true });
    const until = c.at() + 10_000;
    await assert.rejects(
      rideOut(async () => {
        throw down;
      }, { signal, until, now: c.now, sleep: c.sleep }),
      (e) => e === down,
    );
    assert.ok(c.at() < until, 'no attempt starts after the wait');
    assert.ok(c.slept.every((ms) => ms <= 2_000), `backoff at most 2 s: ${c.slept.join(', ')}`);
  });

  for (const [what, err] of [
    ['a socket that closed after the handshake (a request may have reached the gateway)', new GatewayError('failed', 'the gateway closed the connection (1006)')],
    ['a refusal of the credentials', new GatewayError('rejected', 'token mismatch', undefined, { reason: TOKEN_MISMATCH })],
    ['the deadline', new GatewayError('timeout', 'the gateway did not answer in time')],
    ['a failure of the bridge itself', new Error('boom')],
  ] as const) {
    test(`${what} is reported at once, never asked again`, async () => {
      const c = clock();
      let calls = 0;
      await assert.rejects(
        rideOut(async () => {
          calls++;
          throw err;
        }, { signal, until: c.at() + 60_000, now: c.now, sleep: c.sleep }),
        (e) => e === err,
      );
      assert.equal(calls, 1);
    });
  }

  test('a request whose deadline passed is not asked again', async () => {
    const c = clock();
    const ac = new AbortController();
    ac.abort();
    let calls = 0;
    await assert.rejects(
      rideOut(async () => {
        calls++;
        throw new GatewayError('unreachable', 'the gateway cannot be reached', undefined, { retryable: true });
      }, { signal: ac.signal, until: c.at() + 60_000, now: c.now, sleep: c.sleep }),
    );
    assert.equal(calls, 1);
  });
});
