/**
 * The edge function, run by the real Deno, in front of the real OpenClaw gateway (rendered by
 * clawops from the repository's config, providers pointed at a local stand-in), with a stand-in
 * of Supabase Auth. A TCP relay between bridge and gateway counts connections, so a test can
 * prove that a refused request never reached the gateway.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { parseSse, startBridge, startTcpRelay, type BridgeProcess, type TcpRelay } from '../support/bridge-process.js';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway.js';
import { repoConfig } from '../support/repo.js';

let gw: LiveGateway;
let auth: AuthStandin;
let relay: TcpRelay;
let bridge: BridgeProcess;
let deviceKeyPem: string;
let allowedOrigin: string;
let user: { token: string; userId: string };
/** Every response body the bridge sent, for the leak check. */
const bodies: string[] = [];

async function call(path: string, init: { method?: string; token?: string | null; origin?: string; body?: unknown; base?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? user.token : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.origin) headers.origin = init.origin;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const started = Date.now();
  const res = await fetch(`${init.base ?? bridge.url}${path}`, {
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

describe('openclaw-bridge edge function', { timeout: 300_000 }, () => {
  before(async () => {
    const config = await repoConfig();
    allowedOrigin = config.supabase!.cors.origins[0]!;
    deviceKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    auth = await startAuthStandin();
    user = auth.issue();
    gw = await startLiveGateway();
    relay = await startTcpRelay(gw.port);
    bridge = await startBridge({
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${relay.port}`,
      OPENCLAW_GATEWAY_TOKEN: gw.token,
      OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
      OPENCLAW_BRIDGE_CORS_ORIGINS: config.supabase!.cors.origins.join(','),
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    });
  });

  after(async () => {
    await bridge?.stop();
    await relay?.close();
    await gw?.stop();
    await auth?.close();
  });

  test('health: the gateway\'s health, under every path form Supabase uses', async () => {
    for (const path of ['/functions/v1/openclaw-bridge/openclaw/health', '/openclaw-bridge/openclaw/health', '/openclaw/health']) {
      const r = await call(path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.equal(r.json.ok, true);
      assert.equal(r.json.gateway.ok, true);
      assert.equal(r.json.gateway.hotReload, 'active');
    }
  });

  test('chat: the reply streams as server-sent events and the stream ends after the final event', async () => {
    const before = gw.upstream.requests.length;
    const r = await call('/openclaw-bridge/openclaw/chat', { body: { message: 'hello through the bridge', sessionKey: 'web' }, origin: allowedOrigin });
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

  test('history: the session\'s messages, and none of another user\'s', async () => {
    const r = await call('/openclaw/history?sessionKey=web&limit=10');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.sessionKey, 'web');
    const roles = r.json.messages.map((m: any) => m.role);
    assert.deepEqual(roles.slice(0, 2), ['user', 'assistant']);
    assert.equal(r.json.messages[0].content, 'hello through the bridge');
    assert.equal(r.json.messages[1].model, 'deepseek-chat');
    assert.ok(!r.text.includes('__openclaw'), 'gateway internals are left out');

    const other = auth.issue('someone-else@example.com');
    const theirs = await call('/openclaw/history?sessionKey=web', { token: other.token });
    assert.equal(theirs.status, 200, theirs.text);
    assert.deepEqual(theirs.json.messages, []);
  });

  test('fallback: when the primary\'s upstream answers 429, the reply comes from the next model in the chain', async () => {
    const [primary, next] = gw.chain as [string, string];
    assert.equal(primary, 'deepseek/deepseek-chat');
    assert.equal(next, 'kimi/kimi-k2.5');
    gw.upstream.set('deepseek-chat', 'rate-limit');
    try {
      const before = gw.upstream.requests.length;
      const r = await call('/openclaw/chat', { body: { message: 'is anyone there?', sessionKey: 'fallback' } });
      assert.equal(r.status, 200, r.text);
      const done = parseSse(r.text).at(-1)!;
      assert.equal(done.event, 'done');
      assert.equal(done.data.state, 'final');
      assert.equal(done.data.text, gw.upstream.replyText('kimi-k2.5'));
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

  test('agents status and skills: the fleet and its skills, without host paths', async () => {
    const agents = await call('/openclaw/agents/status');
    assert.equal(agents.status, 200, agents.text);
    assert.equal(agents.json.defaultId, 'main');
    assert.deepEqual(agents.json.agents.map((a: any) => a.id).sort(), ['main', 'scribe', 'sentinel']);
    const main = agents.json.agents.find((a: any) => a.id === 'main');
    assert.equal(main.model.primary, gw.chain[0]);
    assert.deepEqual(main.model.fallbacks, gw.chain.slice(1));
    assert.equal(agents.json.agents.find((a: any) => a.id === 'sentinel').model.primary, 'cerebras/llama-3.3-70b');

    const skills = await call('/openclaw/skills');
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
      { path: '/openclaw/chat', token: 'eyJ.forged-token', body: { message: 'let me in' } },
      { path: '/openclaw/health', token: null },
      { path: '/openclaw/history', token: 'not-a-user' },
      { path: '/openclaw/skills', token: '' },
    ];
    for (const c of cases) {
      const r = await call(c.path, { token: c.token, ...(c.body ? { body: c.body } : {}), origin: allowedOrigin });
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
    const preflight = await fetch(`${bridge.url}/openclaw/chat`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    await preflight.body?.cancel();
    assert.notEqual(preflight.status, 204);
    assert.deepEqual(corsHeaderNames(preflight.headers), []);
    const r = await call('/openclaw/chat', { body: { message: 'hi' }, origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'origin_not_allowed');
    assert.deepEqual(corsHeaderNames(r.headers), []);
    assert.equal(auth.calls.length, authCalls, 'the token was not even checked');
    assert.equal(relay.connections(), connections);

    const ok = await fetch(`${bridge.url}/functions/v1/openclaw-bridge/openclaw/chat`, {
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
    assert.equal((await call('/openclaw/nope')).status, 404);
    assert.equal((await call('/openclaw/chat')).status, 405);
    assert.equal((await call('/openclaw/chat', { body: { sessionKey: 'web' } })).status, 400);
    assert.equal((await call('/openclaw/chat', { body: 'not json' })).status, 400);
    assert.equal((await call('/openclaw/chat', { body: { message: 'hi', sessionKey: '../../agent:main:main' } })).status, 400);
    assert.equal(relay.connections(), connections);
  });

  test('a gateway that does not answer: 504 with a JSON error, within the configured timeout', async () => {
    const silent = await startTcpRelay(gw.port);
    silent.mode = 'blackhole';
    const slow = await startBridge({
      OPENCLAW_GATEWAY_URL: `ws://127.0.0.1:${silent.port}`,
      OPENCLAW_GATEWAY_TOKEN: gw.token,
      OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
      OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '3',
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    });
    try {
      for (const path of ['/openclaw/health', '/openclaw/chat']) {
        const r = await call(path, { base: slow.url, ...(path.endsWith('chat') ? { body: { message: 'anyone?' } } : {}) });
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

  test('no secret value ever appears in a response or in the bridge\'s log', () => {
    const pemBody = deviceKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
    const log = bridge.output();
    assert.ok(log.includes('"path":"/openclaw/chat"'), 'the log records requests');
    for (const text of [...bodies, log]) {
      for (const secret of [gw.token, ...pemBody, auth.anonKey, user.token]) assert.ok(!text.includes(secret), 'a secret leaked');
    }
  });

  test('the gateway stopped: a clear 502 JSON error, quickly', async () => {
    await gw.stopGateway();
    for (const c of [{ path: '/openclaw/health' }, { path: '/openclaw/chat', body: { message: 'still there?' } }, { path: '/openclaw/agents/status' }]) {
      const r = await call(c.path, c.body ? { body: c.body } : {});
      assert.ok(r.status === 502 || r.status === 503, `${c.path}: ${r.status} ${r.text}`);
      assert.match(r.json.error.code, /^gateway_(unreachable|not_ready)$/);
      // At once, not after the gateway timeout (the default 140 s) it would wait on a silent gateway.
      assert.ok(r.ms < 60_000, `${c.path} answered after ${r.ms} ms`);
    }
  });
});
