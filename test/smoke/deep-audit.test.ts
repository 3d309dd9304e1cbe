/**
 * The smoke's deep audit against a live gateway: the real OpenClaw gateway rendered by clawops, and
 * the pinned OpenClaw's own `security audit --deep --json`, run the way the smoke runs it on a
 * host (the gateway's environment file loaded, in the state directory). The render passes; a
 * setting changed by hand afterwards in the openclaw.json the gateway runs fails the check, named.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openclawCommand } from '../../scripts/tools.js';
import { runSmoke, type SmokeCheck, type SmokeTarget } from '../../src/smoke/smoke.js';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway.js';
import { repoConfig } from '../support/repo.js';

let gw: LiveGateway;
let target: SmokeTarget;

/** `openclaw security audit --deep --json` against the live gateway's state, as the smoke runs it on a host. */
function deepAudit(): Promise<string> {
  const home = join(gw.stateDir, '..');
  const cmd = openclawCommand(['security', 'audit', '--deep', '--json'], {
    HOME: home,
    OPENCLAW_STATE_DIR: gw.stateDir,
    OPENCLAW_CONFIG_PATH: join(gw.stateDir, 'openclaw.json'),
    ...gw.secrets,
  });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.command, cmd.args, { env: cmd.env, cwd: gw.stateDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (out.trim().startsWith('{') ? resolve(out) : reject(new Error(`security audit exited ${code}: ${err.slice(-2000)}`))));
  });
}

async function auditCheck(): Promise<SmokeCheck> {
  const result = await runSmoke(target);
  const c = result.checks.find((x) => x.name === 'security audit --deep');
  assert.ok(c, result.checks.map((x) => x.name).join(', '));
  return c;
}

describe('the smoke\'s deep security audit', { timeout: 900_000 }, () => {
  before(async () => {
    gw = await startLiveGateway();
    // The harness makes the state directory as any folder; OpenClaw's own is private to its user.
    await chmod(gw.stateDir, 0o700);
    const local = (await repoConfig()).environments.find((e) => e.name === 'local')!;
    target = {
      gatewayUrl: gw.httpUrl,
      token: gw.token,
      deviceKeyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      proxies: [],
      fallbackSkip: 'not this test',
      deepAudit: { run: deepAudit, accept: local.security?.accept ?? [] },
    };
  });

  after(async () => {
    await gw?.stop();
  });

  test('the applied render passes; a setting changed by hand on the host fails the smoke, named', async () => {
    const clean = await auditCheck();
    assert.equal(clean.ok, true, clean.detail);

    // By hand, on the host: the session tools see every session again (OpenClaw's default).
    const path = join(gw.stateDir, 'openclaw.json');
    const config = JSON.parse(await readFile(path, 'utf8')) as { tools: Record<string, unknown> };
    delete config.tools.sessions;
    delete config.tools.agentToAgent;
    await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

    const edited = await auditCheck();
    assert.equal(edited.ok, false, edited.detail);
    assert.match(edited.detail, /security\.trust_model\.cross_agent_session_access_default/);
    assert.ok(!edited.detail.includes(gw.token));
  });
});
