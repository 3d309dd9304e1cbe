// End to end, on a real Debian host: the TLS hop. Caddy from Debian's package (in the test image, as
// production gets it from its archive) runs in clawops's own unit, with Caddy's internal CA, in
// front of a gateway bound to loopback. The smoke checks and a chat through the bridge (the real
// Deno, trusting that CA through DENO_CERT) go over wss://; a plaintext URL off loopback is refused;
// a certificate close to its end is reported by smoke and drift (the CLI's clock moved by faketime).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { parseSse, startBridge } from '../support/bridge-process.js';
import { ENV, GATEWAY_PORT, leakedSecrets, openclawOnHost, startE2E, startStubUpstream, serveChainModels, type CliRun, type E2E } from './support.js';

let e: E2E;
let dir: string;
/** Caddy's internal root certificate, as the host's Caddy made it. */
let rootCa: string;

function expectExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `clawops ${run.args.join(' ')} exited ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

const ENV_FILE = `config/environments/${ENV}.yaml`;
const ROOT_CRT = '/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt';

describe('the TLS hop on a real host, with Caddy\'s internal CA', { timeout: 20 * 60_000 }, () => {
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
});
