/**
 * The smoke checks against a live deployment on loopback: the real OpenClaw gateway (rendered by
 * clawops, with a smoke canary agent), its three real proxies, the edge function under the real
 * Deno, and stand-ins for the LLM upstreams and Supabase Auth.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GatewayClient } from '../../src/smoke/gateway-client.js';
import { formatCheck, runSmoke, SMOKE_SCOPES, UNSERVED_MODEL, type SmokeCheck, type SmokeTarget } from '../../src/smoke/smoke.js';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { startBridge, type BridgeProcess } from '../support/bridge-process.js';
import { CANARY, freePort, startLiveGateway, type LiveGateway } from '../support/live-gateway.js';

let gw: LiveGateway;
let auth: AuthStandin;
let bridge: BridgeProcess;
let target: SmokeTarget;
const pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('clawops smoke', { timeout: 300_000 }, () => {
  before(async () => {
    auth = await startAuthStandin();
    gw = await startLiveGateway({ canary: true });
    bridge = await startBridge({
      OPENCLAW_GATEWAY_URL: gw.wsUrl,
      OPENCLAW_GATEWAY_TOKEN: gw.token,
      OPENCLAW_BRIDGE_DEVICE_KEY: pem(),
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    });
    target = {
      gatewayUrl: gw.httpUrl,
      token: gw.token,
      deviceKeyPem: pem(),
      proxies: gw.proxies,
      bridgeUrl: `${bridge.url}/functions/v1/openclaw-bridge`,
      bridgeUserToken: auth.issue('smoke@example.com').token,
      fallback: { agentId: CANARY.agent, canaryModel: CANARY.model },
      chain: gw.chain,
    };
  });

  after(async () => {
    await bridge?.stop();
    await gw?.stop();
    await auth?.close();
  });

  // First, while the canary has never failed: once it has, the gateway remembers the refused key and
  // skips it without calling it (the fallback check passes either way).
  test('the canary answering is a failure: the chain did not need to fall back', async () => {
    gw.upstream.set(CANARY.modelId, 'answer');
    try {
      const result = await runSmoke({ ...target, proxies: [], bridgeUrl: undefined });
      assert.equal(result.ok, false);
      const fallback = result.checks.find((c) => c.name === 'fallback chain falls back')!;
      assert.equal(fallback.ok, false);
      assert.match(fallback.detail, /the canary canary\/always-fails answered: it is meant to fail/);
    } finally {
      gw.upstream.set(CANARY.modelId, 'unauthorized');
    }
  });

  test('every check passes against a healthy deployment, and each reports its time', async (t) => {
    const printed: string[] = [];
    const before = gw.upstream.requests.length;
    const result = await runSmoke(target, { onCheck: (c) => printed.push(formatCheck(c)) });
    for (const line of printed) t.diagnostic(line);
    assert.deepEqual(
      result.checks.map((c) => [c.name, c.ok]),
      [
        ['gateway health (WebSocket)', true],
        ['heartbeat', true],
        ['proxy gemini /healthz', true],
        ['proxy kimi /healthz', true],
        ['proxy mistral /healthz', true],
        ['bridge health', true],
        ['bridge chat round trip', true],
        ['fallback chain falls back', true],
      ],
      printed.join('\n'),
    );
    assert.equal(result.ok, true);
    assert.equal(printed.length, result.checks.length, 'each check is reported as it finishes');
    for (const c of result.checks) assert.ok(Number.isInteger(c.ms) && c.ms >= 0);
    assert.match(result.checks[0]!.detail, /OpenClaw 2026\.9\.6, running the config on disk/);
    // A gateway just started has had no heartbeat yet: its first comes one cadence (30 min) after the start.
    assert.match(result.checks[1]!.detail, /^none yet: the gateway started \d+ (s|min) ago and beats every 30m$/);
    assert.match(result.checks[6]!.detail, /answered by deepseek\/deepseek-chat$/);
    const fallback = result.checks[7]!;
    assert.equal(fallback.detail, `the canary ${CANARY.model} failed and deepseek/deepseek-chat answered; steps: ${CANARY.model} → deepseek/deepseek-chat (auth)`);
    // The canary really was called and refused, then the chain's primary answered.
    const calls = gw.upstream.requests.slice(before).map((q) => `${q.model}:${q.status}`);
    assert.ok(calls.includes(`${CANARY.modelId}:401`), calls.join(' '));
    assert.equal(calls.at(-1), 'deepseek-chat:200');
  });

  test('with the primary rate-limited, the round trip names the fallback and the canary falls further down the chain', async () => {
    gw.upstream.set('deepseek-chat', 'rate-limit');
    try {
      const result = await runSmoke(target);
      assert.equal(result.ok, true, result.checks.map(formatCheck).join('\n'));
      const chat = result.checks.find((c) => c.name === 'bridge chat round trip')!;
      assert.match(chat.detail, /answered by kimi\/kimi-k2\.5, after falling back deepseek\/deepseek-chat → kimi\/kimi-k2\.5 \(rate_limit\)$/);
      const fallback = result.checks.find((c) => c.name === 'fallback chain falls back')!;
      assert.match(fallback.detail, /failed and kimi\/kimi-k2\.5 answered; steps: .*deepseek\/deepseek-chat → kimi\/kimi-k2\.5 \(rate_limit\)$/);
    } finally {
      gw.upstream.set('deepseek-chat', 'answer');
    }
  });

  test('any failing check fails the run, with a reason and no secret in it', async () => {
    const result = await runSmoke({
      ...target,
      token: 'wrong-gateway-token-0123456789',
      proxies: [{ name: 'ghost', url: `http://127.0.0.1:${await freePort()}` }],
      bridgeUserToken: 'eyJ.not-a-user-token',
      timeoutMs: 20_000,
    });
    assert.equal(result.ok, false);
    const byName = Object.fromEntries(result.checks.map((c: SmokeCheck) => [c.name, c]));
    assert.equal(byName['gateway health (WebSocket)']!.ok, false);
    assert.match(byName['gateway health (WebSocket)']!.detail, /token mismatch|AUTH_TOKEN_MISMATCH|1008/);
    assert.equal(byName['proxy ghost /healthz']!.ok, false);
    assert.equal(byName['bridge health']!.ok, false);
    assert.match(byName['bridge health']!.detail, /^answered 401 unauthorized/);
    assert.equal(byName['bridge chat round trip']!.ok, false);
    assert.equal(byName['fallback chain falls back']!.ok, false);
    const text = result.checks.map(formatCheck).join('\n');
    for (const s of ['wrong-gateway-token-0123456789', 'eyJ.not-a-user-token', gw.token]) assert.ok(!text.includes(s), `a secret in: ${text}`);
    assert.match(text, /^✘ gateway health/m);
  });

  test('without a bridge those checks are skipped, not failed', async () => {
    const result = await runSmoke({ gatewayUrl: gw.wsUrl, token: gw.token, deviceKeyPem: target.deviceKeyPem, proxies: [] });
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.checks.map((c) => [c.name, c.ok, c.skipped === true]),
      [
        ['gateway health (WebSocket)', true, false],
        ['heartbeat', true, false],
        ['bridge health', true, true],
        ['bridge chat round trip', true, true],
        ['fallback chain falls back', true, true],
      ],
    );
    assert.equal(formatCheck(result.checks[2]!), '- bridge health (0 ms): skipped: no bridge URL');
  });

  test('without a canary, the fallback starts from a model the first provider does not serve, and a chain model answers', async () => {
    // The stand-in, as OpenAI-compatible providers do, answers 404 model_not_found for a model it does not serve.
    gw.upstream.set(UNSERVED_MODEL, 'not-found');
    const before = gw.upstream.requests.length;
    const result = await runSmoke({ gatewayUrl: gw.wsUrl, token: gw.token, deviceKeyPem: target.deviceKeyPem, proxies: [], chain: gw.chain });
    const fallback = result.checks.find((c) => c.name === 'fallback chain falls back')!;
    assert.equal(fallback.skipped, undefined, formatCheck(fallback));
    assert.equal(fallback.ok, true, formatCheck(fallback));
    // The primary may still be cooling down from the rate limit an earlier test set: any chain model may answer.
    const answered = new RegExp(`^deepseek/${UNSERVED_MODEL} failed and (\\S+) answered`).exec(fallback.detail)?.[1];
    assert.ok(answered && gw.chain.includes(answered), fallback.detail);
    const calls = gw.upstream.requests.slice(before).filter((q) => q.method === 'POST').map((q) => `${q.model}:${q.status}`);
    assert.equal(calls[0], `${UNSERVED_MODEL}:404`, 'the run starts from the unserved model, refused at once');
    assert.equal(calls.at(-1), `${answered.slice(answered.indexOf('/') + 1)}:200`, calls.join(' '));
    // The one-shot job is gone again.
    const g = await GatewayClient.open({ url: gw.wsUrl, token: gw.token, deviceKeyPem: target.deviceKeyPem, scopes: [...SMOKE_SCOPES] });
    try {
      const jobs = (await g.request('cron.list', { includeDisabled: true })) as { jobs?: { name: string }[] };
      assert.deepEqual((jobs.jobs ?? []).filter((j) => j.name.startsWith('clawops-smoke')), []);
    } finally {
      g.close();
    }
  });

  test('without a canary, a chain that cannot answer fails the check', async () => {
    gw.upstream.set(UNSERVED_MODEL, 'not-found');
    for (const ref of gw.chain) gw.upstream.set(ref.slice(ref.indexOf('/') + 1), 'unauthorized');
    try {
      const result = await runSmoke({ gatewayUrl: gw.wsUrl, token: gw.token, deviceKeyPem: target.deviceKeyPem, proxies: [], chain: gw.chain });
      const fallback = result.checks.find((c) => c.name === 'fallback chain falls back')!;
      assert.equal(fallback.ok, false, formatCheck(fallback));
      assert.match(fallback.detail, new RegExp(`^the run from deepseek/${UNSERVED_MODEL} ended error`));
    } finally {
      gw.upstream.reset();
      gw.upstream.set(CANARY.modelId, 'unauthorized');
    }
  });
});
