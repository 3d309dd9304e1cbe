// End to end, on a real Debian host: the TLS hop. Caddy from Debian's package (in the test image, as
// production gets it from its archive) runs in clawops's own unit, with Caddy's internal CA, in
// front of a gateway bound to loopback. The smoke checks and a chat through the bridge (the real
// Deno, trusting that CA through DENO_CERT) go over wss://; a plaintext URL off loopback is refused;
// a certificate close to its end is reported by smoke and drift (the CLI's clock moved by faketime);
// a rotation of the gateway token by one apply, with chats through the bridge running across it
// and none refused.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { parseSse, startBridge, startFunctionRuntime } from '../support/bridge-process.js';
import { startSupabaseStandin } from '../support/supabase-standin.js';
import { waitUntil } from '../support/wait.js';
import { ENV, GATEWAY, GATEWAY_PORT, leakedSecrets, openclawOnHost, startE2E, startStubUpstream, serveChainModels, unitStarts, type CliRun, type E2E } from './support.js';

let e: E2E;
let dir: string;
/** Caddy's internal root certificate, as the host's Caddy made it. */
let rootCa: string;

function expectExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `clawops ${run.args.join(' ')} exited ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

const ENV_FILE = `config/environments/${ENV}.yaml`;
const ROOT_CRT = '/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt';

describe('the TLS hop on a real host, with Caddy\'s internal CA', { timeout: 40 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-tls', { canary: false, tls: true });
    dir = await mkdtemp(join(tmpdir(), 'clawops-tls-'));
  });

  after(async () => {
    await e?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plan shows the Caddy unit to start and Debian\'s caddy.service to stop; apply runs Caddy health-gated in front of a loopback gateway', async () => {
    const plan = await e.cli(['plan', '--env', ENV]);
    expectExit(plan, 0);
    assert.match(plan.stdout, /openclaw-tls\.service/);
    assert.match(plan.stdout, /caddy\.service.*Debian's own Caddy/);
    assert.match(plan.stdout, /\/etc\/caddy\/clawops\.Caddyfile/);

    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    expectExit(run, 0);
    assert.match(run.stderr, /validate caddy config/);
    assert.match(await e.sh('sudo cat /home/ubuntu/.openclaw/.clawops/current/progress 2>/dev/null || sudo bash -c "cat /home/ubuntu/.openclaw/.clawops/releases/*/progress"'), /gate ok openclaw-tls\.service/);
    assert.equal((await e.sh('systemctl is-active openclaw-tls.service; systemctl is-enabled openclaw-tls.service')).trim(), 'active\nenabled');
    assert.equal((await e.sh('systemctl is-active caddy.service; systemctl is-enabled caddy.service || true')).trim(), 'inactive\ndisabled');
    // The gateway listens on loopback only; 443 is Caddy's, nothing listens on 80.
    const listening = await e.sh('sudo ss -Hltn');
    assert.match(listening, new RegExp(`127\\.0\\.0\\.1:${GATEWAY_PORT}\\b`));
    assert.doesNotMatch(listening, new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${GATEWAY_PORT}\\b`));
    assert.match(listening, /:443\b/);
    assert.doesNotMatch(listening, /:80\b/);
    rootCa = join(dir, 'caddy-root.crt');
    await writeFile(rootCa, await e.sh(`sudo cat ${ROOT_CRT}`));
    await startStubUpstream(e);
    // Each provider serves exactly the models the chain names, so the smoke's unserved model fails and falls back.
    await serveChainModels(e);

    const again = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    expectExit(again, 0);
  });

  it('smoke goes over wss:// and checks the certificate; without the CA trusted, the certificate check fails', async () => {
    const run = await e.cli(['smoke', '--env', ENV], { env: { NODE_EXTRA_CA_CERTS: rootCa } });
    assert.match(run.stdout, /^✔ TLS certificate \(\d+ ms\): valid for \d+ days more, until .*Caddy Local Authority/m, run.stdout);
    assert.match(run.stdout, /^✔ gateway health \(WebSocket\)/m, run.stdout);
    expectExit(run, 0);
    const untrusted = await e.cli(['smoke', '--env', ENV]);
    expectExit(untrusted, 1);
    assert.match(untrusted.stdout, /^✘ TLS certificate \(\d+ ms\): not trusted here: /m);
    for (const r of [run, untrusted]) assert.deepEqual(leakedSecrets(r.stdout + r.stderr, e.secretValues), []);
  });

  it('a certificate within its warning window fails the smoke and shows in drift', async () => {
    // The internal CA signs for 7 days: 156 hours on, half a day is left, within the 1-day window.
    const opts = { env: { NODE_EXTRA_CA_CERTS: rootCa }, clock: '+156h' };
    const smoke = await e.cli(['smoke', '--env', ENV], opts);
    expectExit(smoke, 1);
    assert.match(smoke.stdout, /^✘ TLS certificate \(\d+ ms\): expires in \d+ h, at .*: within 1 days, so its renewal is failing/m, smoke.stdout);
    const drift = await e.cli(['drift', '--env', ENV], opts);
    expectExit(drift, 2);
    assert.match(drift.stdout, /! certificate of https:\/\/[\d.]+: expires in \d+ h, .* — certificate not renewed/);
    const now = await e.cli(['drift', '--env', ENV], { env: { NODE_EXTRA_CA_CERTS: rootCa } });
    expectExit(now, 0);
  });

  it('the bridge under the real Deno reaches the gateway over wss:// trusting the CA through DENO_CERT, and refuses a plaintext URL', async () => {
    const auth: AuthStandin = await startAuthStandin();
    const deviceKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const host = e.host.host;
    const base = {
      OPENCLAW_GATEWAY_TOKEN: e.secrets.OPENCLAW_GATEWAY_TOKEN!,
      OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem,
      OPENCLAW_BRIDGE_CORS_ORIGINS: 'https://app.example.com',
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    };
    const bridge = await startBridge({ ...base, OPENCLAW_GATEWAY_URL: `https://${host}`, DENO_CERT: rootCa });
    const plain = await startBridge({ ...base, OPENCLAW_GATEWAY_URL: `http://${host}:${GATEWAY_PORT}` });
    try {
      const user = auth.issue('web@example.com');
      const call = (b: typeof bridge, path: string, body?: unknown) =>
        fetch(`${b.url}${path}`, {
          method: body ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${user.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(170_000),
        });
      // The plaintext one refuses to run at all: its settings are wrong, whatever the request.
      const refused = await call(plain, '/openclaw/health');
      const refusedText = await refused.text();
      assert.equal(refused.status, 503, refusedText);
      assert.equal(JSON.parse(refusedText).error.code, 'bridge_not_configured');
      assert.match(plain.output(), /OPENCLAW_GATEWAY_URL: a plaintext ws:\/\/ or http:\/\/ gateway URL to another machine/);

      // The bridge's device comes from elsewhere than the gateway's host: approved once, as the README says.
      await call(bridge, '/openclaw/health').then((r) => r.text());
      const pending = await openclawOnHost(e, 'devices list --json');
      for (const [, id] of pending.matchAll(/"requestId"\s*:\s*"([^"]+)"/g)) await openclawOnHost(e, `devices approve ${id}`);
      const health = await call(bridge, '/openclaw/health');
      const healthText = await health.text();
      assert.equal(health.status, 200, `${healthText}\n${bridge.output()}`);
      assert.equal(JSON.parse(healthText).ok, true);

      const chat = await call(bridge, '/openclaw/chat', { message: 'hello over wss', sessionKey: 'tls' });
      const text = await chat.text();
      assert.equal(chat.status, 200, text);
      const events = parseSse(text);
      assert.equal(events.at(-1)?.event, 'done', text);
      assert.equal(events.at(-1)?.data.state, 'final', text);
      assert.deepEqual(leakedSecrets(bridge.output() + plain.output() + text, e.secretValues), []);
    } finally {
      await bridge.stop();
      await plain.stop();
      await auth.close();
    }
  });

  it('a plaintext publicUrl off loopback is refused outside a test environment, naming the file, line and key', async () => {
    const restore = await e.editRepo(ENV_FILE, (t) =>
      t
        .replace(/^test: true\n/m, '')
        .replace(/  bind: loopback\n  tls:\n(    .*\n)+/, `  bind: lan\n  publicUrl: http://${e.host.host}:${GATEWAY_PORT}\n`),
    );
    try {
      const run = await e.cli(['smoke', '--env', ENV]);
      expectExit(run, 1);
      assert.match(run.stderr, new RegExp(`config/environments/${ENV}\\.yaml:\\d+:\\d+: gateway\\.publicUrl: http://[\\d.]+:${GATEWAY_PORT} is plaintext`));
    } finally {
      await restore();
    }
  });

  it('a new gateway token, by one apply: a loop of chats through the bridge runs across it, and none is refused but by the worker from before it', async () => {
    const accessToken = e.secrets.SUPABASE_ACCESS_TOKEN!;
    const api = await startSupabaseStandin({ accessToken, projectRef: 'qsyncscriptbridgeprd' });
    const auth = await startAuthStandin();
    const deviceKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pemLines = deviceKeyPem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const oldToken = e.secrets.OPENCLAW_GATEWAY_TOKEN!;
    const newToken = `canary-openclaw-gateway-token-${randomBytes(9).toString('hex')}`;
    // The bridge fronts this environment; its device key is a real one, given to the CLI as a secret.
    const restore = await e.editRepo('config/supabase.yaml', (t) => t.replace(/^environment: .*$/m, `environment: ${ENV}`));
    const cliEnv = { SUPABASE_API_URL: api.url, OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem };
    let runtime: Awaited<ReturnType<typeof startFunctionRuntime>> | undefined;
    try {
      const first = await e.cli(['apply', '--env', ENV, '--no-smoke'], { env: cliEnv });
      expectExit(first, 0);
      assert.equal(api.secrets.get('OPENCLAW_GATEWAY_TOKEN'), oldToken);
      runtime = await startFunctionRuntime(api.secrets, {
        SUPABASE_URL: auth.url,
        SUPABASE_ANON_KEY: auth.anonKey,
        DENO_CERT: rootCa,
        // The test host shares two cores with the suite: its gateway may take longer to stop (OpenClaw
        // drains the runs it took) and start than the 60 s the bridge waits by default. The longest
        // request Supabase allows and a wait to its end: ceilings, not expectations.
        OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '145',
        OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: '140',
      });
      const user = auth.issue('rotation@example.com');
      // Each client its own session, as two web users have: messages to one session queue behind each other.
      const chat = async (message: string, sessionKey = 'rotation') => {
        const res = await fetch(`${runtime!.current().url}/openclaw/chat?v=2`, {
          method: 'POST',
          headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ message, sessionKey }),
          signal: AbortSignal.timeout(170_000),
        });
        const text = await res.text();
        const last = res.status === 200 ? parseSse(text).at(-1) : undefined;
        return { message, status: res.status, event: last?.event, state: last?.data?.state as string | undefined, text };
      };
      // The bridge's device is approved once, as the README says.
      await chat('pairing').catch(() => undefined);
      const pending = await openclawOnHost(e, 'devices list --json');
      for (const [, id] of pending.matchAll(/"requestId"\s*:\s*"([^"]+)"/g)) await openclawOnHost(e, `devices approve ${id}`);
      const warm = await chat('before the rotation');
      assert.deepEqual([warm.status, warm.event, warm.state], [200, 'done', 'final'], `${warm.text}\n${runtime.output()}`);

      const startedBefore = (await unitStarts(e, [GATEWAY]))[GATEWAY];
      // Two clients chat without a pause, from before the apply until after it.
      const results: (Awaited<ReturnType<typeof chat>> & { name: string })[] = [];
      let applying = true;
      const count = { during: 0, after: 0 };
      const client = async (name: string) => {
        for (let n = 0, after = 0; after < 3; n++) {
          const r = await chat(`${name} message ${n}.`, `rotation-${name}`);
          results.push({ ...r, name });
          process.stderr.write(`[e2e] chat ${name}${n}${applying ? ' (during the apply)' : ''} → ${r.status} ${r.event ?? ''} ${r.state ?? ''}\n`);
          if (applying) count.during++;
          else (after++, count.after++);
        }
      };
      const clients = [client('a'), client('b')];
      const run = await e.cli(['apply', '--env', ENV, '--no-smoke'], { env: { ...cliEnv, OPENCLAW_GATEWAY_TOKEN: newToken } }).finally(() => (applying = false));
      await Promise.all(clients);
      expectExit(run, 0);

      // The gateway restarted with the new token while the clients chatted.
      assert.notEqual((await unitStarts(e, [GATEWAY]))[GATEWAY], startedBefore, 'the gateway restarted');
      assert.match(await e.sh('sudo cat /home/ubuntu/.openclaw/gateway.env'), new RegExp(`^OPENCLAW_GATEWAY_TOKEN=${newToken}$`, 'm'));
      // In order: the function holds both tokens, the gateway restarts, the function keeps the new one only.
      const held = run.stderr.search(/edge function openclaw-bridge: holds the next gateway token/);
      const restarted = run.stderr.search(/restart openclaw-gateway\.service/);
      const settled = run.stderr.search(/edge function openclaw-bridge: settings updated/);
      assert.ok(held >= 0 && restarted > held && settled > restarted, run.stderr);
      assert.equal(api.secrets.get('OPENCLAW_GATEWAY_TOKEN'), newToken);
      assert.equal(api.secrets.has('OPENCLAW_GATEWAY_TOKEN_NEXT'), false, 'the next token is removed once the rotation is over');

      assert.ok(count.during >= 1 && count.after === 6, `chats ran during the apply and after it: ${count.during} during, ${count.after} after`);
      // One log line per chat (the pairing, the warm-up, the clients'), each written as its stream closes.
      const chatLines = () => runtime!.output().split('\n').filter((l) => l.includes('"path":"/openclaw/chat"'));
      await waitUntil('a log line for every chat', () => chatLines().length >= results.length + 2, { intervalMs: 20, ceilingMs: 30_000, describe: () => runtime!.output() });
      const lines = chatLines().map((l) => JSON.parse(l) as Record<string, number | undefined>);
      // Every chat is answered, but one a worker started before the rotation served after the restart:
      // that worker holds only the old token (a worker reads the secrets when it starts), and the
      // README names the limit. The runtime routes new requests to the new worker once it listens, so
      // a chat that came while it booted may be one. Each refusal is the gateway's, and that worker
      // logged one for each.
      const refused = results.filter((r) => r.status !== 200 || r.event !== 'done' || r.state !== 'final');
      const rejectedByOld = (runtime.outputs()[0]!.match(/"code":"gateway_rejected"/g) ?? []).length;
      assert.ok(
        refused.every((r) => /"code":"gateway_rejected"/.test(r.text)) && refused.length <= rejectedByOld,
        `every chat across the rotation answered, but by the worker from before it (${results.length} in all, ${refused.length} refused, ${rejectedByOld} by that worker)\n${refused.map((r) => `${r.status} ${r.event ?? ''} ${r.text.slice(0, 300)}`).join('\n')}\n${runtime.output()}`,
      );
      if (refused.length) process.stderr.write(`[e2e] bridge: ${refused.length} chat(s) refused on the worker started before the rotation, which holds only the old token\n`);
      const sentAgain = lines.reduce((n, l) => n + (l.sentAgain ?? 0), 0);
      process.stderr.write(`[e2e] bridge: ${lines.length} chats, ${lines.filter((l) => l.retries).length} waited out the restart; messages sent again after the restart turned their run away: ${sentAgain}\n`);
      // Every answered message is in its session; one shows more than once only as often as the bridge sent it
      // again (OpenClaw keeps a message whose run the restart cut off, as when a user tries again).
      let extra = 0;
      for (const name of ['a', 'b']) {
        const res = await fetch(`${runtime.current().url}/openclaw/history?sessionKey=rotation-${name}&limit=200`, { headers: { authorization: `Bearer ${user.token}` } });
        const history = (await res.json()) as { messages: { role: string; content: unknown }[] };
        const sent = history.messages.filter((m) => m.role === 'user').map((m) => JSON.stringify(m.content));
        for (const r of results.filter((x) => x.name === name)) {
          const times = sent.filter((c) => c.includes(r.message)).length;
          if (!refused.includes(r)) assert.ok(times >= 1, `${r.message} is in ${name}'s session: ${sent.join('\n')}`);
          extra += Math.max(0, times - 1);
        }
      }
      assert.ok(extra <= sentAgain, `${extra} messages more than sent in the sessions, ${sentAgain} sent again\n${chatLines().join('\n')}`);
      // The workers that held the old token met the new one and presented it after one mismatch.
      assert.match(runtime.output(), /"token":"next"/);
      assert.deepEqual(leakedSecrets(runtime.output() + run.stdout + run.stderr + results.map((r) => r.text).join('\n'), [...e.secretValues, newToken, ...pemLines]), []);
      e.secrets.OPENCLAW_GATEWAY_TOKEN = newToken;
      e.secretValues.push(newToken);
    } finally {
      await runtime?.stop();
      await restore();
      await auth.close();
      await api.close();
    }
  });
});
