/**
 * A chat that meets the gateway while it drains for a restart. OpenClaw 2026.9.6 takes a
 * `chat.send` that arrives just before its drain closes admission, answers with a run id, and then
 * ends that run at once with GatewayDrainingError ("Gateway is draining; new tasks are not
 * accepted"); a run it cut off as it stopped ends with the text it shows a user then ("Gateway is
 * restarting. Please wait a few seconds and try again."); then it refuses connections until the new
 * process listens. The bridge's own handler, loaded as it is, in front of a scripted gateway that
 * behaves that way, and the real Supabase auth stand-in: the message goes again to the gateway that
 * comes back, and only a run that was turned away before any reply is sent again. OpenClaw's answer
 * to a run that came while it prepared the agent's model runtime again, as it does after a config
 * reload, is one such refusal too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { BRIDGE_DIR, parseSse } from '../support/bridge-process.js';

interface EventFrame {
  type: 'event';
  event: string;
  payload: Record<string, unknown>;
}
interface Connection {
  request(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  onEvent(listener: (e: EventFrame) => void): void;
  closed: Promise<unknown>;
  close(): void;
}
type Handler = (req: Request) => Promise<Response>;
interface HandlerModule {
  createHandler(
    result: { ok: true; settings: Record<string, unknown> },
    deps: { fetch: typeof fetch; openGateway(o: Record<string, unknown>): Promise<Connection>; device(pem: string): Promise<unknown>; log(e: Record<string, unknown>): void },
  ): Handler;
}
interface GatewayModule {
  GatewayError: new (kind: string, message: string, retryAfterMs?: number, more?: { reason?: string; retryable?: boolean }) => Error;
}
// Loaded by path: their imports end in .ts, as Deno wants them, which this project's tsc does not follow.
const { createHandler } = (await import(pathToFileURL(join(BRIDGE_DIR, 'handler.ts')).href)) as HandlerModule;
const { GatewayError } = (await import(pathToFileURL(join(BRIDGE_DIR, 'gateway.ts')).href)) as GatewayModule;

const DRAINING = 'Gateway is draining; new tasks are not accepted';
const RESTARTING = '⚠️ Gateway is restarting. Please wait a few seconds and try again.';
const FAILED = 'All models failed (2): canary/canary-model: HTTP 401 unauthorized';
/** As OpenClaw 2026.9.6 ended a web user's first chat after a hot reload on the test host. */
const REPREPARED = 'Error: prepared model runtime plugin generation was superseded for /home/ubuntu/.openclaw/agents/main/agent';

/** What the scripted gateway does with each connection attempt, in order; the last one repeats. */
type Phase =
  /** Takes chat.send, then ends the run as turned away by the drain. */
  | 'draining'
  /** Takes chat.send, then ends the run as cut off by the restart, with the text OpenClaw shows a user then. */
  | 'cut-off'
  /** Takes chat.send, then ends the run as one that came while the agent's model runtime was prepared again. */
  | 'reprepared'
  /** Takes chat.send, then ends the run with an error of its own (a model refused). */
  | 'failed'
  /** Takes chat.send, streams part of a reply, then ends the run with the drain's error. */
  | 'draining-after-reply'
  /** Refuses the connection, as a gateway between two processes does. */
  | 'restarting'
  /** Takes chat.send and answers. */
  | 'up';

function scriptedGateway(phases: Phase[]) {
  const sends: { phase: Phase; idempotencyKey: string; sessionKey: string }[] = [];
  let opened = 0;
  let closedByBridge = 0;
  const open = async (): Promise<Connection> => {
    const phase = phases[Math.min(opened++, phases.length - 1)]!;
    if (phase === 'restarting') throw new GatewayError('unreachable', 'connect ECONNREFUSED 127.0.0.1:18789', undefined, { retryable: true });
    const listeners: ((e: EventFrame) => void)[] = [];
    let closeIt!: (e: unknown) => void;
    const closed = new Promise<unknown>((r) => (closeIt = r));
    const emit = (payload: Record<string, unknown>, event = 'chat') => setTimeout(() => listeners.forEach((l) => l({ type: 'event', event, payload })), 5);
    return {
      onEvent: (l) => void listeners.push(l),
      closed,
      close() {
        closedByBridge++;
        closeIt(new GatewayError('failed', 'closed by the bridge'));
      },
      async request(method, params = {}) {
        if (method === 'chat.abort') return { ok: true };
        assert.equal(method, 'chat.send');
        const sessionKey = params.sessionKey as string;
        const runId = `run-${sends.length + 1}`;
        sends.push({ phase, idempotencyKey: params.idempotencyKey as string, sessionKey });
        const base = { runId, sessionKey };
        // As the real gateway sent it on a restart of the test host: the error's name, then its message.
        if (phase === 'draining') emit({ ...base, seq: 1, state: 'error', errorMessage: `GatewayDrainingError: ${DRAINING}` });
        else if (phase === 'cut-off') emit({ ...base, seq: 1, state: 'error', errorMessage: RESTARTING });
        else if (phase === 'reprepared') emit({ ...base, seq: 1, state: 'error', errorMessage: REPREPARED });
        else if (phase === 'failed') emit({ ...base, seq: 1, state: 'error', errorMessage: FAILED });
        else if (phase === 'draining-after-reply') {
          emit({ ...base, seq: 1, state: 'delta', deltaText: 'Half a ', message: { role: 'assistant', content: [{ type: 'text', text: 'Half a ' }] } });
          emit({ ...base, seq: 2, state: 'error', errorMessage: DRAINING });
        } else {
          emit({ ...base, seq: 1, state: 'delta', deltaText: 'Back again.', message: { role: 'assistant', content: [{ type: 'text', text: 'Back again.' }] } });
          emit({ ...base, seq: 2, state: 'final', message: { role: 'assistant', content: [{ type: 'text', text: 'Back again.' }] } });
        }
        return { runId, status: 'started' };
      },
    };
  };
  return { open, sends, opened: () => opened, closedByBridge: () => closedByBridge };
}

let auth: AuthStandin;
let user: { token: string };
before(async () => {
  auth = await startAuthStandin();
  user = auth.issue('drain@example.com');
});
after(() => auth?.close());

function bridge(gateway: ReturnType<typeof scriptedGateway>, restartWaitMs: number) {
  const log: Record<string, unknown>[] = [];
  const handler = createHandler(
    {
      ok: true,
      settings: {
        gatewayUrl: 'ws://127.0.0.1:18789',
        gatewayToken: 'drain-test-token',
        deviceKeyPem: '',
        corsOrigins: [],
        timeoutMs: 60_000,
        restartWaitMs,
        agentId: 'main',
        supabaseUrl: auth.url,
        supabaseAnonKey: auth.anonKey,
      },
    },
    { fetch: (i, init) => fetch(i, init), openGateway: gateway.open, device: async () => ({}), log: (e) => void log.push(e) },
  );
  const chat = async (message: string) => {
    const res = await handler(
      new Request('http://bridge.test/openclaw/chat?v=2', {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message, sessionKey: 'drain' }),
      }),
    );
    return { status: res.status, events: parseSse(await res.text()) };
  };
  return { chat, log };
}

describe('a chat sent while the gateway drains for a restart', () => {
  test('turned away before any reply, as the drain began and as the gateway stopped: sent again, under a new key, to the gateway that comes back, and answered', async () => {
    const gw = scriptedGateway(['draining', 'cut-off', 'restarting', 'restarting', 'up']);
    const b = bridge(gw, 30_000);
    const r = await b.chat('are you there?');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.events.map((e) => e.event),
      ['start', 'delta', 'done'],
      JSON.stringify(r.events),
    );
    assert.equal(r.events.at(-1)!.data.state, 'final');
    assert.equal(r.events[1]!.data.text, 'Back again.');
    // Sent three times: to the draining gateway, again as it stopped, then to the new one; the refused connections sent nothing.
    assert.deepEqual(gw.sends.map((s) => s.phase), ['draining', 'cut-off', 'up']);
    assert.equal(gw.opened(), 5);
    assert.equal(new Set(gw.sends.map((s) => s.idempotencyKey)).size, 3, 'a refused run\'s key is not reused');
    assert.equal(new Set(gw.sends.map((s) => s.sessionKey)).size, 1);
    assert.equal(gw.closedByBridge(), 3, 'each connection is closed');
    const line = b.log.at(-1)!;
    assert.equal(line.outcome, 'final');
    assert.equal(line.sentAgain, 2);
    assert.equal(line.runId, 'run-3');
  });

  test('a gateway that keeps draining past the restart wait: the refusal ends the stream, after a bounded number of tries', async () => {
    const gw = scriptedGateway(['draining']);
    const b = bridge(gw, 5_000);
    const r = await b.chat('still draining?');
    assert.equal(r.status, 200);
    const done = r.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.data.state, 'error');
    assert.equal(done.data.error, `GatewayDrainingError: ${DRAINING}`);
    // Pauses of 250, 500, 1000 and 2000 ms fit in the 5 s wait: at most five sends in all.
    assert.ok(gw.sends.length >= 2 && gw.sends.length <= 5, `${gw.sends.length} sends`);
    assert.equal(b.log.at(-1)!.outcome, 'error');
  });

  test('turned away while OpenClaw prepared the agent\'s model runtime again (a config reload): sent again and answered; a run\'s own failure is not', async () => {
    const gw = scriptedGateway(['reprepared', 'up']);
    const b = bridge(gw, 30_000);
    const r = await b.chat('right after a reload');
    assert.deepEqual(r.events.map((e) => [e.event, e.data.state ?? null]), [['start', null], ['delta', null], ['done', 'final']], JSON.stringify(r.events));
    assert.deepEqual(gw.sends.map((s) => s.phase), ['reprepared', 'up']);
    assert.equal(new Set(gw.sends.map((s) => s.idempotencyKey)).size, 2);
    assert.equal(b.log.at(-1)!.sentAgain, 1);

    const failing = scriptedGateway(['failed', 'up']);
    const f = bridge(failing, 30_000);
    const refused = await f.chat('a model refuses');
    assert.deepEqual(failing.sends.map((s) => s.phase), ['failed']);
    assert.deepEqual([refused.events.at(-1)!.data.state, refused.events.at(-1)!.data.error], ['error', FAILED]);
    assert.equal(f.log.at(-1)!.sentAgain, undefined);
  });

  test('a run that had begun to answer is never sent again: the client keeps the text so far and the error', async () => {
    const gw = scriptedGateway(['draining-after-reply', 'up']);
    const b = bridge(gw, 30_000);
    const r = await b.chat('a long question');
    assert.deepEqual(gw.sends.map((s) => s.phase), ['draining-after-reply']);
    const done = r.events.at(-1)!;
    assert.equal(done.data.state, 'error');
    assert.equal(done.data.error, DRAINING);
    assert.equal(r.events.filter((e) => e.event === 'delta').map((e) => e.data.text).join(''), 'Half a ');
    assert.equal(b.log.at(-1)!.sentAgain, undefined);
  });
});
