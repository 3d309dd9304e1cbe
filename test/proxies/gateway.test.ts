/**
 * One chat through the real OpenClaw gateway, deployed from clawops's rendered config, with the
 * chain's primary on Gemini: gateway → rendered gemini proxy (OpenAI wire) → a stand-in speaking
 * Gemini's native `generateContent` API. The proxy holds the Gemini key; the gateway never does.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GatewayClient } from '../../src/smoke/gateway-client.js';
import { PROXY_PLACEHOLDER_KEY } from '../../src/render/openclaw.js';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway.js';
import { geminiEvent, geminiText, json, startSse, startStandIn, type StandIn } from './upstreams.js';

const PRIMARY = 'gemini/gemini-2.5-flash';
const MESSAGE = 'What colour is a clear sky? (gateway round trip 7b1e)';
const REPLY = 'A clear sky is blue, says the Gemini stand-in.';
const NATIVE_PATH = /^\/v1beta\/models\/gemini-2\.5-flash:(generateContent|streamGenerateContent\?alt=sse)$/;

let gemini: StandIn;
let gw: LiveGateway;
let geminiKey: string;

/** The pid and every descendant of it, from /proc. */
async function processTree(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid …": comm may itself hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parentOf.set(Number(entry), ppid);
  }
  const tree = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (tree.includes(ppid) && !tree.includes(pid)) {
        tree.push(pid);
        grew = true;
      }
    }
  }
  return tree;
}

const textOf = (content: { parts?: { text?: string }[] }) => (content.parts ?? []).map((p) => p.text ?? '').join('');

describe('a chat through the real gateway and the gemini proxy to a native Gemini upstream', { timeout: 180_000 }, () => {
  before(async () => {
    gemini = await startStandIn();
    gemini.handle((rec, res) => {
      if (rec.method !== 'POST' || !NATIVE_PATH.test(rec.url)) return json(res, 404, { error: { code: 404, message: `no ${rec.method} ${rec.url}`, status: 'NOT_FOUND' } });
      if (!rec.url.includes(':streamGenerateContent')) return json(res, 200, geminiText(REPLY));
      // The answer in two events, as Gemini streams it: only the last carries the finish reason and usage.
      const cut = REPLY.indexOf(' is ');
      startSse(res);
      geminiEvent(res, { candidates: [{ content: { role: 'model', parts: [{ text: REPLY.slice(0, cut) }] }, index: 0 }], modelVersion: 'gemini-2.5-flash' });
      geminiEvent(res, geminiText(REPLY.slice(cut)));
      res.end();
    });
    gw = await startLiveGateway({ primary: PRIMARY, upstreams: { gemini: `${gemini.origin}/v1beta` } });
    geminiKey = gw.secrets.GEMINI_API_KEY!;
    assert.match(geminiKey, /^canary-gemini-api-key-[0-9a-f]{16}$/);
  });

  after(async () => {
    await gw?.stop();
    await gemini?.close();
  });

  test('the reply comes from the native upstream, which got a native request with the proxy\'s key', async (t) => {
    t.diagnostic(`gateway ready in ${gw.readyMs} ms`);
    assert.equal(gw.chain[0], PRIMARY);
    const compatBefore = gw.upstream.requests.length;
    const client = await GatewayClient.open({
      url: gw.wsUrl,
      token: gw.token,
      deviceKeyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const started = Date.now();
    let result;
    try {
      result = await client.chat({ sessionKey: 'agent:main:gemini-round-trip', message: MESSAGE, timeoutMs: 120_000 });
    } finally {
      client.close();
    }
    t.diagnostic(`chat answered in ${Date.now() - started} ms`);

    assert.equal(result.state, 'final', result.text);
    assert.equal(result.text, REPLY);
    assert.deepEqual(result.model, { provider: 'gemini', model: 'gemini-2.5-flash' });
    assert.deepEqual(result.fallbacks, []);
    const compatChats = gw.upstream.requests.slice(compatBefore).filter((q) => q.path.endsWith('/chat/completions'));
    assert.deepEqual(compatChats, [], 'no other provider was asked');

    const calls = gemini.requests.filter((r) => NATIVE_PATH.test(r.url));
    assert.ok(calls.length >= 1, `native requests: ${gemini.requests.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    assert.deepEqual(gemini.requests.filter((r) => !NATIVE_PATH.test(r.url)).map((r) => r.url), [], 'nothing but generateContent reached the upstream');
    const call = calls.find((r) => r.body?.contents?.some((c: { parts?: { text?: string }[] }) => textOf(c).includes(MESSAGE)));
    assert.ok(call, `no native request carried the message: ${calls.map((r) => r.raw.slice(0, 300)).join('\n')}`);
    assert.equal(call.method, 'POST');
    assert.equal(call.headers['x-goog-api-key'], geminiKey);
    assert.equal(call.headers.authorization, undefined, `the gateway's placeholder (${PROXY_PLACEHOLDER_KEY}) stays at the proxy`);
    assert.doesNotMatch(call.url, /[?&]key=/, 'the key never travels in the URL');

    // Role mapping: the system prompt leaves `contents` for `systemInstruction`; the rest is user/model.
    const contents = call.body.contents as { role: string; parts?: { text?: string }[] }[];
    for (const c of contents) assert.ok(c.role === 'user' || c.role === 'model', `role ${c.role} in contents`);
    assert.equal(contents.at(-1)!.role, 'user');
    assert.ok(textOf(contents.at(-1)!).includes(MESSAGE), textOf(contents.at(-1)!));
    assert.ok(textOf(call.body.systemInstruction ?? {}).length > 0, 'the gateway\'s system prompt became systemInstruction');
  });

  test('the gateway never holds the Gemini key: not in openclaw.json, gateway.env or its environment', async () => {
    const configText = await readFile(join(gw.stateDir, 'openclaw.json'), 'utf8');
    const provider = JSON.parse(configText).models.providers.gemini;
    assert.equal(provider.apiKey, PROXY_PLACEHOLDER_KEY);
    assert.equal(provider.baseUrl, `${gw.proxies.find((p) => p.name === 'gemini')!.url}/v1`);
    assert.ok(!configText.includes('GEMINI_API_KEY'), 'openclaw.json names no GEMINI_API_KEY');
    assert.ok(!configText.includes(geminiKey));

    const envFile = await readFile(join(gw.stateDir, 'gateway.env'), 'utf8');
    assert.match(envFile, /^OPENCLAW_GATEWAY_TOKEN=/m);
    assert.doesNotMatch(envFile, /GEMINI_API_KEY/);
    assert.ok(!envFile.includes(geminiKey));

    const pids = await processTree(gw.gatewayPid);
    for (const pid of pids) {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => null);
      if (environ === null) continue; // gone since the listing
      const vars = environ.split('\0').filter(Boolean);
      if (pid === gw.gatewayPid) assert.ok(vars.some((v) => v.startsWith('OPENCLAW_STATE_DIR=')), 'read the gateway\'s own environment');
      assert.deepEqual(vars.filter((v) => v.startsWith('GEMINI_API_KEY=')), [], `process ${pid}`);
      assert.ok(!environ.includes(geminiKey), `process ${pid} holds the Gemini key`);
    }
  });

  test('the Gemini key appears in no process output, nor in the gateway\'s log file', async () => {
    const outputs = gw.outputs();
    assert.deepEqual(outputs.map((o) => o.name).sort(), ['gateway', 'gemini-proxy', 'kimi-proxy', 'mistral-proxy']);
    const printed = outputs.find((o) => o.name === 'gateway')!.text;
    assert.ok(printed.length > 0, 'the gateway printed something');
    for (const o of outputs) assert.ok(!o.text.includes(geminiKey), `${o.name} printed the Gemini key`);
    // OpenClaw also writes a log file of its own, outside the state folder, and says where.
    const logFile = /log file: (\S+)/.exec(printed)?.[1];
    if (logFile) assert.ok(!(await readFile(logFile, 'utf8')).includes(geminiKey), `${logFile} holds the Gemini key`);
  });
});
