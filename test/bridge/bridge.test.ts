/**
 * The edge function, run by the real Deno, in front of the real OpenClaw gateway (rendered by
 * clawops from the repository's config, providers pointed at a local stand-in), with a stand-in
 * of Supabase Auth. A TCP relay between bridge and gateway counts connections, so a test can
 * prove that a refused request never reached the gateway. Every test runs on each Deno line the
 * function must run on (current, and the 2.1 of Supabase's hosted runtime), against one gateway.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DENO_LINES } from '../../scripts/tools.js';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { parseSse, startBridge, startTcpRelay, type BridgeProcess, type TcpRelay } from '../support/bridge-process.js';
import { decodeStream, finalReply, replyFromDeltas } from '../support/bridge-stream.js';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway.js';
import { REPO_ROOT, repoConfig } from '../support/repo.js';
import { waitUntil } from '../support/wait.js';

let gw: LiveGateway;
let auth: AuthStandin;
let relay: TcpRelay;
/** One bridge per Deno line, all in front of the same gateway. */
const bridges = new Map<string, BridgeProcess>();
let deviceKeyPem: string;
let allowedOrigin: string;
let user: { token: string; userId: string };
/** Every response body the bridge sent, for the leak check. */
const bodies: string[] = [];
/** The gateway's words for its internals: none reaches a browser in the v2 form. */
const INTERNALS = /sessionId|"lane"|terminalReceipt|terminalReply|isHeartbeat|lifecycle|itemId|agent:main|"seq"|"ts"/;

/** A reply of about `chars` characters, in words, as a model streams it. */
function longReply(chars: number): string {
  const words: string[] = [];
  for (let n = 0; n < chars; n += words.at(-1)!.length + 1) words.push(`word${words.length}`);
  return words.join(' ');
}

async function call(path: string, init: { method?: string; token?: string | null; origin?: string; body?: unknown; base?: string; user?: { token: string } } = {}) {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? (init.user ?? user).token : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.origin) headers.origin = init.origin;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const started = Date.now();
  const res = await fetch(`${init.base ?? [...bridges.values()][0]!.url}${path}`, {
    method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
    headers,
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(170_000),
  });
  const text = await res.text();
  bodies.push(text);
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
}

const corsHeaderNames = (h: Headers) => [...h.keys()].filter((k) => k.startsWith('access-control-'));

describe('openclaw-bridge edge function', { timeout: 900_000 }, () => {
  before(async () => {
    const config = await repoConfig();
    allowedOrigin = config.supabase!.cors.origins[0]!;
    deviceKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    auth = await startAuthStandin();
    user = auth.issue();
    gw = await startLiveGateway();
    relay = await startTcpRelay(gw.port);
    const env = {
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${relay.port}`,
      OPENCLAW_GATEWAY_TOKEN: gw.token,
      OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
      OPENCLAW_BRIDGE_CORS_ORIGINS: config.supabase!.cors.origins.join(','),
      // A stopped gateway (the last test) is reported after 3 s of waiting it out, not the default 60.
      OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: '3',
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    };
    for (const deno of DENO_LINES) bridges.set(deno.name, await startBridge(env, deno.path));
  });

  after(async () => {
    await Promise.all([...bridges.values()].map((b) => b.stop()));
    await relay?.close();
    await gw?.stop();
    await auth?.close();
  });

  for (const deno of DENO_LINES) {
    describe(`on ${deno.name}`, () => {
      const bridge = () => bridges.get(deno.name)!;
      const base = () => bridge().url;
      // A user of its own per line, so each line's history is its own.
      let me: { token: string; userId: string };
      before(() => void (me = auth.issue(`web-${deno.name.replace(/\W+/g, '-')}@example.com`)));

      test('health: the gateway\'s health, under every path form Supabase uses', async () => {
        for (const path of ['/functions/v1/openclaw-bridge/openclaw/health', '/openclaw-bridge/openclaw/health', '/openclaw/health']) {
          const r = await call(path, { base: base() });
          assert.equal(r.status, 200, `${path}: ${r.text}`);
          assert.equal(r.json.ok, true);
          assert.equal(r.json.gateway.ok, true);
          assert.equal(r.json.gateway.hotReload, 'active');
        }
      });

      test('chat, today\'s form (no v): the gateway\'s agent and chat events, then done', async () => {
        const before = gw.upstream.requests.length;
        const r = await call('/openclaw-bridge/openclaw/chat', { base: base(), user: me, body: { message: 'hello through the bridge', sessionKey: 'web' }, origin: allowedOrigin });
        assert.equal(r.status, 200, r.text);
        assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
        assert.equal(r.headers.get('access-control-allow-origin'), allowedOrigin);
        const events = parseSse(r.text);
        const names = events.map((e) => e.event);
        assert.equal(names[0], 'start');
        assert.equal(names.at(-1), 'done', `the stream ends with done: ${names.join(',')}`);
        assert.equal(names.filter((n) => n === 'done').length, 1);
        assert.ok(names.includes('agent') && names.includes('chat'), names.join(','));
        const done = events.at(-1)!.data;
        assert.equal(done.state, 'final');
        assert.equal(done.text, gw.upstream.replyText('deepseek-chat'));
        assert.deepEqual(done.model, { provider: 'deepseek', model: 'deepseek-chat' });
        assert.deepEqual(done.fallbacks, []);
        const finals = events.filter((e) => e.event === 'chat' && e.data.state === 'final');
        assert.equal(finals.length, 1);
        // Every event is about this user's session, under the label the client chose.
        for (const e of events.filter((e) => e.event === 'agent' || e.event === 'chat')) {
          assert.equal(e.data.sessionKey, 'web');
          assert.equal(e.data.runId, done.runId);
        }
        assert.ok(gw.upstream.requests.slice(before).some((q) => q.model === 'deepseek-chat' && q.status === 200));
      });

      test('chat, v2: start, the new text in deltas, done with the model and usage; nothing internal, each character sent once', async () => {
        const reply = longReply(8 * 1024);
        // At a model's pace (8,000 characters a second): a reply the gateway could hand over in one
        // piece on a fast machine would say nothing about streaming.
        gw.upstream.setReply('deepseek-chat', reply, 8000);
        try {
          const r = await call('/openclaw/chat?v=2', { base: base(), user: me, body: { message: 'a long answer, please', sessionKey: 'v2' }, origin: allowedOrigin });
          assert.equal(r.status, 200, r.text);
          assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
          const events = decodeStream(r.text);
          assert.equal(events[0]!.event, 'start');
          assert.deepEqual(Object.keys(events[0]!.data).sort(), ['runId', 'sessionKey']);
          assert.equal(events[0]!.event === 'start' && events[0]!.data.sessionKey, 'v2');
          const last = events.at(-1)!;
          assert.equal(last.event, 'done', events.map((e) => e.event).join(','));
          assert.ok(last.event === 'done');
          assert.equal(last.data.state, 'final');
          assert.equal('text' in last.data, false, 'the deltas built the reply: done does not send it again');
          assert.deepEqual(last.data.model, { provider: 'deepseek', model: 'deepseek-chat' });
          assert.deepEqual(last.data.usage, { outputTokens: 5 }, 'the stand-in reports 5 completion tokens');
          assert.deepEqual(last.data.fallbacks, []);
          const deltas = events.filter((e) => e.event === 'delta');
          assert.ok(deltas.length > 1, `the reply streams in more than one delta (${deltas.length})`);
          assert.equal(replyFromDeltas(events), reply, 'the deltas add up to the reply');
          assert.doesNotMatch(r.text, INTERNALS);
          // Each character once, in a delta, and a few dozen bytes of framing per delta (each carries
          // up to DELTA_WINDOW_MS of text): the reply and a little, not its square.
          const framing = Buffer.byteLength(r.text) - reply.length;
          assert.ok(framing <= 64 * deltas.length + 1024, `${Buffer.byteLength(r.text)} bytes in ${deltas.length} deltas for a reply of ${reply.length} characters`);
          assert.ok(Buffer.byteLength(r.text) <= 2 * reply.length + 4096, `${Buffer.byteLength(r.text)} bytes for a reply of ${reply.length} characters`);
        } finally {
          gw.upstream.reset();
        }
      });

      test('chat, v2: the README\'s browser example, run as it is written, shows the reply as it grows', async () => {
        const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
        const code = /### The chat stream[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
        assert.ok(code, 'the README has the example');
        const reply = longReply(3 * 1024);
        gw.upstream.setReply('deepseek-chat', reply, 3000); // a second of streaming, whatever the machine's speed
        try {
          const shown: string[] = [];
          const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
          await new AsyncFunction('BRIDGE', 'accessToken', 'message', 'show', code)(base(), me.token, 'show me', (text: string) => shown.push(text));
          assert.equal(shown.at(-1), reply);
          assert.ok(shown.some((t) => t.length > 0 && t.length < reply.length), 'shown in part while it streams, not only at the end');
          for (let i = 1; i < shown.length; i++) assert.ok(shown[i]!.startsWith(shown[i - 1]!), 'the reply only grows');
        } finally {
          gw.upstream.reset();
        }
      });

      test('chat, v2: a stream cut by the bridge\'s time limit ends with error and the text so far', async () => {
        const reply = longReply(600);
        gw.upstream.setReply('deepseek-chat', reply);
        gw.upstream.set('deepseek-chat', 'stall');
        // The limit is the one the deployment sets (OPENCLAW_BRIDGE_TIMEOUT_SECONDS, 140 by default), made short here.
        const short = await startBridge(
          { OPENCLAW_GATEWAY_URL: gw.wsUrl, OPENCLAW_GATEWAY_TOKEN: gw.token, OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem, OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '40', SUPABASE_URL: auth.url, SUPABASE_ANON_KEY: auth.anonKey },
          deno.path,
        );
        try {
          const r = await call('/openclaw/chat?v=2', { base: short.url, user: me, body: { message: 'this one will not finish', sessionKey: 'cut' } });
          assert.equal(r.status, 200, r.text);
          const events = decodeStream(r.text);
          const last = events.at(-1)!;
          assert.equal(last.event, 'error', events.map((e) => e.event).join(','));
          assert.ok(last.event === 'error');
          assert.equal(last.data.code, 'gateway_timeout');
          assert.match(last.data.message, /40 s/);
          assert.equal(last.data.text, reply, 'the text so far: the whole reply the model streamed before it stalled');
          assert.equal(replyFromDeltas(events), reply);
          bodies.push(short.output());
        } finally {
          gw.upstream.reset();
          await short.stop();
        }
      });

      test('chat: an unknown stream form is refused before the gateway', async () => {
        const connections = relay.connections();
        const r = await call('/openclaw/chat?v=3', { base: base(), body: { message: 'hi' } });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.code, 'invalid_request');
        assert.match(r.json.error.message, /^v: expected one of 1, 2/);
        assert.equal(relay.connections(), connections);
      });

      test('history: the session\'s messages, and none of another user\'s', async () => {
        const r = await call('/openclaw/history?sessionKey=web&limit=10', { base: base(), user: me });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.sessionKey, 'web');
        const roles = r.json.messages.map((m: any) => m.role);
        assert.deepEqual(roles.slice(0, 2), ['user', 'assistant']);
        assert.equal(r.json.messages[0].content, 'hello through the bridge');
        assert.equal(r.json.messages[1].model, 'deepseek-chat');
        assert.ok(!r.text.includes('__openclaw'), 'gateway internals are left out');

        const other = auth.issue('someone-else@example.com');
        const theirs = await call('/openclaw/history?sessionKey=web', { base: base(), token: other.token });
        assert.equal(theirs.status, 200, theirs.text);
        assert.deepEqual(theirs.json.messages, []);
      });

      test('agents status and skills: the fleet and its skills, without host paths', async () => {
        const agents = await call('/openclaw/agents/status', { base: base() });
        assert.equal(agents.status, 200, agents.text);
        assert.equal(agents.json.defaultId, 'main');
        assert.deepEqual(agents.json.agents.map((a: any) => a.id).sort(), ['main', 'scribe', 'sentinel']);
        const main = agents.json.agents.find((a: any) => a.id === 'main');
        assert.equal(main.model.primary, gw.chain[0]);
        assert.deepEqual(main.model.fallbacks, gw.chain.slice(1));
        assert.equal(agents.json.agents.find((a: any) => a.id === 'sentinel').model.primary, 'cerebras/llama-3.3-70b');

        const skills = await call('/openclaw/skills', { base: base() });
        assert.equal(skills.status, 200, skills.text);
        assert.equal(skills.json.agentId, 'main');
        assert.ok(skills.json.skills.length > 0);
        for (const k of skills.json.skills) assert.equal(typeof k.name, 'string');
        for (const r of [agents, skills]) assert.ok(!/\/tmp\/|workspace|\.sqlite|node_modules/.test(r.text), 'no host paths');
      });

      test('a missing or wrong user token gets 401, and nothing reaches the gateway', async () => {
        const connections = relay.connections();
        const upstream = gw.upstream.requests.length;
        const cases = [
          { path: '/openclaw/chat', token: null, body: { message: 'let me in' } },
          { path: '/openclaw/chat?v=2', token: 'eyJ.forged-token', body: { message: 'let me in' } },
          { path: '/openclaw/health', token: null },
          { path: '/openclaw/history', token: 'not-a-user' },
          { path: '/openclaw/skills', token: '' },
        ];
        for (const c of cases) {
          const r = await call(c.path, { base: base(), token: c.token, ...(c.body ? { body: c.body } : {}), origin: allowedOrigin });
          assert.equal(r.status, 401, `${c.path} with token ${JSON.stringify(c.token)}: ${r.text}`);
          assert.equal(r.json.error.code, 'unauthorized');
          assert.equal(r.headers.get('access-control-allow-origin'), allowedOrigin, 'the browser may read the error');
        }
        assert.equal(relay.connections(), connections, 'no connection to the gateway');
        assert.equal(gw.upstream.requests.length, upstream, 'no model call');
      });

      test('a disallowed origin gets no CORS headers and nothing is done for it', async () => {
        const connections = relay.connections();
        const authCalls = auth.calls.length;
        const preflight = await fetch(`${base()}/openclaw/chat`, {
          method: 'OPTIONS',
          headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
        });
        await preflight.body?.cancel();
        assert.notEqual(preflight.status, 204);
        assert.deepEqual(corsHeaderNames(preflight.headers), []);
        const r = await call('/openclaw/chat', { base: base(), body: { message: 'hi' }, origin: 'https://evil.example' });
        assert.equal(r.status, 403);
        assert.equal(r.json.error.code, 'origin_not_allowed');
        assert.deepEqual(corsHeaderNames(r.headers), []);
        assert.equal(auth.calls.length, authCalls, 'the token was not even checked');
        assert.equal(relay.connections(), connections);

        const ok = await fetch(`${base()}/functions/v1/openclaw-bridge/openclaw/chat`, {
          method: 'OPTIONS',
          headers: { origin: allowedOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
        });
        await ok.body?.cancel();
        assert.equal(ok.status, 204);
        assert.equal(ok.headers.get('access-control-allow-origin'), allowedOrigin);
        assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/);
        assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
      });

      test('bad requests are refused before the gateway: unknown path, wrong method, bad body', async () => {
        const connections = relay.connections();
        assert.equal((await call('/openclaw/nope', { base: base() })).status, 404);
        assert.equal((await call('/openclaw/chat', { base: base() })).status, 405);
        assert.equal((await call('/openclaw/chat', { base: base(), body: { sessionKey: 'web' } })).status, 400);
        assert.equal((await call('/openclaw/chat', { base: base(), body: 'not json' })).status, 400);
        assert.equal((await call('/openclaw/chat', { base: base(), body: { message: 'hi', sessionKey: '../../agent:main:main' } })).status, 400);
        assert.equal(relay.connections(), connections);
      });

      test('a gateway that does not answer: 504 with a JSON error, within the configured timeout', async () => {
        const silent = await startTcpRelay(gw.port);
        silent.mode = 'blackhole';
        const slow = await startBridge(
          {
            OPENCLAW_GATEWAY_URL: `ws://127.0.0.1:${silent.port}`,
            OPENCLAW_GATEWAY_TOKEN: gw.token,
            OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
            OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '3',
            SUPABASE_URL: auth.url,
            SUPABASE_ANON_KEY: auth.anonKey,
          },
          deno.path,
        );
        try {
          for (const path of ['/openclaw/health', '/openclaw/chat', '/openclaw/chat?v=2']) {
            const r = await call(path, { base: slow.url, ...(path.includes('chat') ? { body: { message: 'anyone?' } } : {}) });
            assert.equal(r.status, 504, r.text);
            assert.equal(r.json.error.code, 'gateway_timeout');
            // Not before its 3 s, and it did not hang (a bound for a loaded machine, not a speed).
            assert.ok(r.ms >= 2_500 && r.ms < 60_000, `answered after ${r.ms} ms`);
          }
          bodies.push(slow.output());
        } finally {
          await slow.stop();
          await silent.close();
        }
      });
    });
  }

  // Once, after every line's chats: the gateway keeps a failed model out of use for a while.
  test('fallback, v2 on Deno 2.1: when the primary\'s upstream answers 429, the reply comes from the next model in the chain', async () => {
    const [primary, next] = gw.chain as [string, string];
    assert.equal(primary, 'deepseek/deepseek-chat');
    assert.equal(next, 'kimi/kimi-k2.5');
    gw.upstream.set('deepseek-chat', 'rate-limit');
    try {
      const before = gw.upstream.requests.length;
      const r = await call('/openclaw/chat?v=2', { base: bridges.get(DENO_LINES.at(-1)!.name)!.url, body: { message: 'is anyone there?', sessionKey: 'fallback' } });
      assert.equal(r.status, 200, r.text);
      const done = decodeStream(r.text).at(-1)!;
      assert.equal(done.event, 'done');
      assert.ok(done.event === 'done');
      assert.equal(done.data.state, 'final');
      assert.equal(finalReply(decodeStream(r.text)), gw.upstream.replyText('kimi-k2.5'));
      assert.deepEqual(done.data.model, { provider: 'kimi', model: 'kimi-k2.5' });
      assert.deepEqual(done.data.fallbacks, [{ from: primary, to: next, reason: 'rate_limit' }]);
      const seen = gw.upstream.requests.slice(before).map((q) => `${q.model}:${q.status}`);
      // The first call is the primary's 429, then the next model answers. The gateway may make a
      // further model call of its own for the session (it sometimes does); it takes the same path.
      assert.deepEqual(seen.slice(0, 2), ['deepseek-chat:429', 'kimi-k2.5:200'], 'through the kimi proxy to the stand-in');
      for (const s of seen) assert.ok(s === 'deepseek-chat:429' || s === 'kimi-k2.5:200', `unexpected upstream call ${s}: ${seen.join(', ')}`);
    } finally {
      gw.upstream.reset();
    }
  });

  test('no secret value ever appears in a response or in the bridge\'s log', () => {
    const pemBody = deviceKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
    const logs = [...bridges.values()].map((b) => b.output());
    for (const log of logs) assert.ok(log.includes('"path":"/openclaw/chat"'), 'the log records requests');
    for (const text of [...bodies, ...logs]) {
      for (const secret of [gw.token, ...pemBody, auth.anonKey, user.token]) assert.ok(!text.includes(secret), 'a secret leaked');
    }
  });

  // On Supabase's line, against the real gateway: what a token rotation and a restart look like from the bridge.
  describe('a token rotation and a gateway restart, on Deno 2.1', () => {
    const hosted = DENO_LINES.at(-1)!;
    /** The bridge's log lines for one path, parsed. */
    const logged = (b: BridgeProcess, path: string) =>
      b
        .output()
        .split('\n')
        .filter((l) => l.includes(`"path":"${path}"`))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    /**
     * The bridge's log line for a request that has been answered. A stream's line is written as
     * it closes, and reaches this process through a pipe: it may come a moment after the body.
     */
    const lineAfter = (b: BridgeProcess, path: string, before: number) =>
      waitUntil(`the bridge's log line for ${path}`, () => logged(b, path)[before], { intervalMs: 20, ceilingMs: 30_000, describe: () => b.output() });

    test('holding the old token and the next: the gateway\'s mismatch sends it to the next token once, which later requests present first', async () => {
      const rotating = await startBridge(
        {
          OPENCLAW_GATEWAY_URL: gw.wsUrl,
          // The gateway already runs the new token: the current one is the old.
          OPENCLAW_GATEWAY_TOKEN: `old-${gw.token.slice(0, 8)}-rotated-away`,
          OPENCLAW_GATEWAY_TOKEN_NEXT: gw.token,
          OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
          SUPABASE_URL: auth.url,
          SUPABASE_ANON_KEY: auth.anonKey,
        },
        hosted.path,
      );
      try {
        for (let i = 0; i < 3; i++) {
          const r = await call('/openclaw/health', { base: rotating.url });
          assert.equal(r.status, 200, `${r.text}\n${rotating.output()}`);
        }
        const chat = await call('/openclaw/chat?v=2', { base: rotating.url, body: { message: 'after the rotation', sessionKey: 'rotation' } });
        assert.equal(chat.status, 200, chat.text);
        assert.equal(decodeStream(chat.text).at(-1)?.event, 'done', chat.text);
        await lineAfter(rotating, '/openclaw/chat', 0);
        const lines = [...logged(rotating, '/openclaw/health'), ...logged(rotating, '/openclaw/chat')];
        assert.deepEqual(
          lines.map((l) => [l.status, l.token, l.tokenMismatches ?? 0]),
          [[200, 'next', 1], [200, 'next', 0], [200, 'next', 0], [200, 'next', 0]],
          'one mismatch for the worker, then the next token first',
        );
        bodies.push(rotating.output());
      } finally {
        await rotating.stop();
      }
    });

    test('a gateway that closes connections while it restarts: the request waits it out and succeeds', async () => {
      const restarting = await startTcpRelay(gw.port);
      restarting.mode = 'refuse';
      const bridge = await startBridge(
        {
          OPENCLAW_GATEWAY_URL: `ws://127.0.0.1:${restarting.port}`,
          OPENCLAW_GATEWAY_TOKEN: gw.token,
          OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
          SUPABASE_URL: auth.url,
          SUPABASE_ANON_KEY: auth.anonKey,
        },
        hosted.path,
      );
      try {
        for (const c of [{ path: '/openclaw/health' }, { path: '/openclaw/chat', body: { message: 'are you back?', sessionKey: 'restart' } }]) {
          restarting.mode = 'refuse';
          const before = restarting.connections();
          const linesBefore = logged(bridge, c.path).length;
          let answered = false;
          const pending = call(c.path, { base: bridge.url, ...(c.body ? { body: c.body } : {}) }).finally(() => (answered = true));
          // Refused twice, then the gateway is back; a bridge that answers before trying again fails here.
          await waitUntil('the bridge to try the restarting gateway twice', () => (restarting.connections() >= before + 2 ? true : undefined), {
            intervalMs: 20,
            alive: () => !answered,
            describe: () => bridge.output(),
          });
          restarting.mode = 'forward';
          const r = await pending;
          assert.equal(r.status, 200, `${c.path}: ${r.text}\n${bridge.output()}`);
          const line = await lineAfter(bridge, c.path, linesBefore);
          assert.ok(typeof line.retries === 'number' && line.retries >= 2, JSON.stringify(line));
        }
        bodies.push(bridge.output());
      } finally {
        await bridge.stop();
        await restarting.close();
      }
    });
  });

  test('the gateway stopped: a clear 502 JSON error, quickly, on every line', async () => {
    await gw.stopGateway();
    for (const b of bridges.values()) {
      for (const c of [{ path: '/openclaw/health' }, { path: '/openclaw/chat', body: { message: 'still there?' } }, { path: '/openclaw/agents/status' }]) {
        const r = await call(c.path, { base: b.url, ...(c.body ? { body: c.body } : {}) });
        assert.ok(r.status === 502 || r.status === 503, `${c.path}: ${r.status} ${r.text}`);
        assert.match(r.json.error.code, /^gateway_(unreachable|not_ready)$/);
        // After waiting out a restart (3 s here), not after the gateway timeout (the default 140 s).
        assert.ok(r.ms < 60_000, `${c.path} answered after ${r.ms} ms`);
      }
    }
  });
});
