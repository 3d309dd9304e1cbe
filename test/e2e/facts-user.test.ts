// End to end, the read-only facts user: apply sets up `clawops-facts` on a real test host (the
// user, the fixed facts program, its one sudo rule, its sshd drop-in), a plan logs in as it with
// no other key and no secret value, and its login can do nothing but read clawops's facts: no
// file written, no other command, no scp or sftp, no port forwarding, no path outside the managed
// folders. It runs the chain probe apply installed, with the plan apply wrote, and no plan of its
// own; one run per interval. A proxy bound to every address by a hand edit is reported by drift and plan.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectExit } from './checks.js';
import { CLAWOPS_DIR, ENV, leakedSecrets, PROXY_PORTS, serveChainModels, STATE, STUB_PORT, startE2E, startStubUpstream, stubRequests, type CliRun, type E2E, type ReleaseRecord } from './support.js';
import { waitUntil } from '../support/wait.js';
import { runCommand } from '../support/spawn.js';

const FACTS_USER = 'clawops-facts';
const FACTS_DIR = '/opt/clawops/facts';
const PROGRAM = `${FACTS_DIR}/clawops-facts`;

let e: E2E;
let work: string;
let factsKey: string;

const run = (command: string, args: string[], input?: string, env?: NodeJS.ProcessEnv) => runCommand(command, args, { ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });

/** ssh options for the read-only user's own key (not the deploying user's). */
const factsSsh = () => [
  '-i', factsKey, '-p', String(e.host.port), '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${e.host.knownHostsPath}`,
  '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR',
];
const asFacts = (...command: string[]) => run('ssh', [...factsSsh(), `${FACTS_USER}@${e.host.host}`, ...command]);

/** The CLI with only the read-only key: no deploying key, no secret value at all. */
async function cliReadOnly(args: string[]): Promise<CliRun> {
  const c = e.cliCommand(args, 'e2e-facts');
  const env = Object.fromEntries(Object.entries(c.env).filter(([k]) => !(k in e.secrets) || k === 'TESTHOST_FACTS_KEY'));
  assert.ok(!('TESTHOST_SSH_KEY' in env) && !('OPENCLAW_GATEWAY_TOKEN' in env));
  const started = Date.now();
  const r = await run(c.command, [...c.args], undefined, env);
  const done = { args, code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
  e.runs.push(done);
  process.stderr.write(`[e2e] clawops ${args.join(' ')} (read-only key only) → exit ${r.code}\n`);
  return done;
}

describe('the read-only facts user', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-facts');
    work = await mkdtemp(join(tmpdir(), 'clawops-facts-'));
    factsKey = join(work, 'facts_ed25519');
    const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'clawops-facts-test', '-f', factsKey]);
    assert.equal(keygen.code, 0, keygen.stderr);
    e.secrets.TESTHOST_FACTS_KEY = await readFile(factsKey, 'utf8');
    e.secretValues.push(...e.secrets.TESTHOST_FACTS_KEY.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
    await e.editRepo(`config/environments/${ENV}.yaml`, (t) => t.replace('  privateKeySecret: TESTHOST_SSH_KEY', `  privateKeySecret: TESTHOST_SSH_KEY\n  factsUser: ${FACTS_USER}\n  factsPrivateKeySecret: TESTHOST_FACTS_KEY`));
    await e.editRepo('config/secrets.yaml', (t) => `${t}  TESTHOST_FACTS_KEY:\n    description: Private key of the read-only facts user on the end-to-end test host\n`);
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('apply creates the user, installs the program, its sudo rule and its sshd drop-in; a second apply changes none of them', async () => {
    let first = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    // The operator's part: the user's key. Here, the test's own.
    const pub = (await readFile(`${factsKey}.pub`, 'utf8')).trim();
    await e.sh(`sudo install -d -o ${FACTS_USER} -g ${FACTS_USER} -m 700 ~${FACTS_USER}/.ssh && echo '${pub}' | sudo tee ~${FACTS_USER}/.ssh/authorized_keys > /dev/null && sudo chown ${FACTS_USER}: ~${FACTS_USER}/.ssh/authorized_keys`);
    // On a loaded machine OpenClaw's first start can give up on its own startup checks (a lease
    // heartbeat that timed out); the facts user is set up before the switch either way.
    const setUp = first.stderr;
    if (first.code !== 0 && /gate failed openclaw-gateway\.service/.test(first.stderr)) first = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    await expectExit(first, 0, e);
    assert.match(setUp, new RegExp(`created the read-only user ${FACTS_USER}`));
    assert.match(setUp, /wrote the sshd drop-in .* and reloaded sshd/);
    assert.match(setUp, /installed the chain probe .*\n.*wrote the chain probe's plan .*\n.*made the chain probe's record folder/);
    assert.equal((await e.sh(`stat -c %U:%a ${PROGRAM}`)).trim(), 'root:755');
    assert.equal((await e.sh(`sudo stat -c %U:%a /etc/sudoers.d/clawops-facts`)).trim(), 'root:440');
    const again = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    await expectExit(again, 0, e);
    assert.doesNotMatch(again.stderr, /created the read-only user|installed the facts program|wrote the s(udo|shd)|chain probe/);
  });

  it('plan --read-only logs in as the read-only user, with its key alone and no secret value, and finds no changes', async () => {
    const r = await cliReadOnly(['plan', '--env', ENV, '--read-only']);
    await expectExit(r, 0, e);
    assert.match(r.stdout, new RegExp(`clawops plan for ${ENV} \\(${FACTS_USER}@`));
    assert.match(r.stdout, /No changes/);
    assert.match(r.stdout, /proxy\.env \(sensitive\) — compared at apply/, 'the env files are listed, compared at apply');
    // The host's auth log names the user that logged in.
    const log = await e.sh(`sudo journalctl -u ssh.service --no-pager -o cat | grep 'Accepted publickey for ${FACTS_USER}' | wc -l`);
    assert.ok(Number(log.trim()) >= 1);
  });

  it('a read-only plan saved with --out is applied exactly: it records each env file as compared at apply, and apply finds the host as the plan saw it', async () => {
    const file = join(work, 'plan.json');
    await expectExit(await cliReadOnly(['plan', '--env', ENV, '--read-only', '--out', file]), 0, e);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { sensitive: Record<string, string> };
    assert.equal(saved.sensitive[`${STATE}/gateway.env`], 'compared at apply');
    const applied = await e.cli(['apply', file, '--no-smoke']);
    await expectExit(applied, 0, e);
    assert.match(applied.stdout, /No changes/);
  });

  it('its login runs nothing but the facts program: no touch, no sh -c, no shell metacharacters', async () => {
    for (const command of [['touch', '/tmp/facts-was-here'], ['sh', '-c', "'touch /tmp/facts-was-here'"], ['clawops-facts', '--dir', `${CLAWOPS_DIR}`, '--manager', 'system;', 'touch', '/tmp/facts-was-here']]) {
      const r = await asFacts(...command);
      assert.notEqual(r.code, 0, `${command.join(' ')} was refused`);
      assert.match(r.stderr, /clawops-facts: refused/);
    }
    const shell = await asFacts();
    assert.notEqual(shell.code, 0, 'no login shell');
    assert.equal((await e.host.run('test -e /tmp/facts-was-here')).code, 1, 'nothing was written');
  });

  it('its program refuses a path or unit outside what clawops manages', async () => {
    const outside = await asFacts('clawops-facts', '--dir', CLAWOPS_DIR, '--manager', 'system', '--file', '/etc/shadow');
    assert.equal(outside.code, 64);
    assert.match(outside.stderr, /refused: \/etc\/shadow is outside the folders clawops manages/);
    const climb = await asFacts('clawops-facts', '--dir', CLAWOPS_DIR, '--manager', 'system', '--file', `${STATE}/../../../etc/shadow`);
    assert.match(climb.stderr, /refused: .* is outside the folders clawops manages/);
    const unit = await asFacts('clawops-facts', '--dir', CLAWOPS_DIR, '--manager', 'system', '--unit', 'ssh.service');
    assert.match(unit.stderr, /refused: ssh\.service is not a unit clawops manages/);
    assert.equal(outside.stdout + climb.stdout + unit.stdout, '', 'nothing read');
    // Inside, it reads: a 0600 env file of the service user, through its sudo rule, and reports its
    // digest keyed on the host, as the release records it; never the digest key itself.
    const inside = await asFacts('clawops-facts', '--dir', CLAWOPS_DIR, '--manager', 'system', '--file', `${STATE}/gateway.env`);
    assert.equal(inside.code, 0, inside.stderr);
    const recorded = (JSON.parse(await e.sh(`cat ${CLAWOPS_DIR}/current/release.json`)) as ReleaseRecord).files[`${STATE}/gateway.env`]!.digest;
    assert.match(recorded, /^hmac:[0-9a-f]{64}$/);
    assert.match(inside.stdout, new RegExp(`^F\\t${STATE}/gateway.env\\t${recorded}\\t600\\tubuntu$`, 'm'));
    const key = (await e.sh(`sudo cat ${CLAWOPS_DIR}/digest.key`)).trim();
    assert.ok(key.length > 20 && !inside.stdout.includes(key), 'the digest key stays on the host');
    assert.doesNotMatch(inside.stdout, /^D\t/m);
  });

  it('smoke --chain logs in as the read-only user, which runs the probe and plan apply installed, as the gateway\'s user; a second run so soon is refused', async () => {
    assert.equal((await e.sh(`stat -c %U:%a ${FACTS_DIR}/chain-probe.mjs ${FACTS_DIR}/chain-plan.json && sudo stat -c %U:%a ${FACTS_DIR}/chain-runs`)).trim(), 'root:644\nroot:644\nubuntu:700');
    await startStubUpstream(e);
    await serveChainModels(e);
    const logins = async () => Number((await e.sh(`sudo journalctl -u ssh.service --no-pager -o cat | grep -c 'Accepted publickey for ${FACTS_USER}' || true`)).trim());
    const before = await logins();
    await e.sh('touch /home/ubuntu/chain-mark');
    const r = await cliReadOnly(['smoke', '--env', ENV, '--chain']);
    assert.ok(r.code === 0 || r.code === 1, `a report either way\n${r.stderr}`);
    assert.match(r.stdout, /^1 +deepseek\/deepseek-chat +upstream +✔ ok +\d+ ms/m);
    assert.match(r.stdout, /^11 +/m, 'every step of the chain');
    assert.ok((await logins()) > before, 'it logged in as the read-only user');
    // The probe keeps the record of its own runs, as the gateway's user; the read-only user owns nothing it wrote.
    assert.equal((await e.sh(`sudo stat -c %U:%a ${FACTS_DIR}/chain-runs/runs.json`)).trim(), 'ubuntu:600');
    // (A login's own runtime folder, /run/user/UID, is systemd-logind's doing for any login.)
    const owned = (await e.sh(`sudo find / -xdev -user ${FACTS_USER} -newer /home/ubuntu/chain-mark -not -path '/proc/*' -not -path '/run/user/*'`)).trim();
    assert.equal(owned, '', `files of ${FACTS_USER}: ${owned}`);
    const again = await cliReadOnly(['smoke', '--env', ENV, '--chain']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /chain probe.*chain-probe: refused: the chain was probed at \S+; one run per 900 s, the next in \d+ s/);
  });

  it('the read-only user cannot send the probe a plan: no word after --chain, and a plan on standard input is not read', async () => {
    for (const extra of [['--plan', '/tmp/plan.json'], ['/tmp/plan.json'], ['--chain']]) {
      const r = await asFacts('clawops-facts', '--chain', ...extra);
      assert.equal(r.code, 64);
      assert.match(r.stderr, /clawops-facts: refused: --chain takes no other argument/);
    }
    // A plan that would send the gateway's key for deepseek to another path of the stand-in.
    const stolen = `http://127.0.0.1:${STUB_PORT}/stolen/v1`;
    const plan = JSON.parse(await e.sh(`cat ${FACTS_DIR}/chain-plan.json`)) as { probes: { chat: { url: string }; list: { url: string } }[]; minIntervalSeconds: number };
    const other = { ...plan, minIntervalSeconds: 0, probes: plan.probes.map((p) => ({ ...p, chat: { ...p.chat, url: `${stolen}/chat/completions` }, list: { ...p.list, url: `${stolen}/models` } })) };
    // The record says when the last run was: the deploying user clears it, as if the interval had passed.
    await e.sh(`sudo rm -f ${FACTS_DIR}/chain-runs/runs.json`);
    const r = await run('ssh', [...factsSsh(), `${FACTS_USER}@${e.host.host}`, 'clawops-facts', '--chain'], JSON.stringify(other));
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { probes: { ref: string }[] };
    assert.equal(out.probes.length, 11);
    assert.ok(!(await stubRequests(e)).some((q) => q.path.startsWith('/stolen/')), 'no request went where the sent plan said');
    // Nor can it change the installed plan, or run anything else.
    for (const command of [['tee', `${FACTS_DIR}/chain-plan.json`], ['clawops-facts', '--chain;', 'touch', '/tmp/facts-was-here']]) {
      const refused = await asFacts(...command);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /clawops-facts: refused/);
    }
    assert.equal((await e.host.run('test -e /tmp/facts-was-here')).code, 1, 'nothing was written');
    assert.equal((await e.sh(`cat ${FACTS_DIR}/chain-plan.json`)).trim(), JSON.stringify(plan, null, 2));
  });

  it('scp, sftp and port forwarding are refused', async () => {
    const file = join(work, 'payload');
    await writeFile(file, 'x');
    const scp = await run('scp', [...factsSsh().map((o) => (o === '-p' ? '-P' : o)), file, `${FACTS_USER}@${e.host.host}:/tmp/facts-scp`]);
    assert.notEqual(scp.code, 0);
    const sftp = await run('sftp', [...factsSsh().map((o) => (o === '-p' ? '-P' : o)), '-b', '-', `${FACTS_USER}@${e.host.host}`], 'put ' + file + ' /tmp/facts-sftp\n');
    assert.notEqual(sftp.code, 0);
    const legacyScp = await run('scp', ['-O', ...factsSsh().map((o) => (o === '-p' ? '-P' : o)), file, `${FACTS_USER}@${e.host.host}:/tmp/facts-scp`]);
    assert.notEqual(legacyScp.code, 0);
    assert.equal((await e.host.run('test -e /tmp/facts-scp || test -e /tmp/facts-sftp')).code, 1, 'no file arrived');
    // -W: a direct TCP channel to the gemini proxy on the host's loopback.
    const forward = await run('ssh', [...factsSsh(), '-W', `127.0.0.1:${PROXY_PORTS.gemini}`, `${FACTS_USER}@${e.host.host}`], 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.notEqual(forward.code, 0);
    assert.doesNotMatch(forward.stdout, /HTTP\//);
    const remote = await run('ssh', [...factsSsh(), '-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9', `${FACTS_USER}@${e.host.host}`, 'clawops-facts', '--dir', CLAWOPS_DIR, '--manager', 'system']);
    assert.notEqual(remote.code, 0);
    assert.match(remote.stderr, /forwarding failed/i);
  });

  it('a proxy bound to every address by a hand edit of its unit: drift and the read-only plan report it', async () => {
    const unit = '/etc/systemd/system/gemini-proxy.service';
    const node = (await e.sh(`grep -o '^ExecStart=[^ ]*' ${unit}`)).trim().replace('ExecStart=', '');
    // The proxy's port answered by a program that listens on every address, as a hand edit would make it.
    await e.sh('cat > /home/ubuntu/bind-all.js', `require('http').createServer((q, s) => s.end('{"status":"ok"}')).listen(${PROXY_PORTS.gemini}, '0.0.0.0');\n`);
    await e.sh(`sudo sed -i 's|^ExecStart=.*|ExecStart=${node} /home/ubuntu/bind-all.js|' ${unit} && sudo systemctl daemon-reload && sudo systemctl restart gemini-proxy.service`);
    await waitUntil('the edited proxy to listen on 0.0.0.0', async () => (await e.host.run(`ss -ltnH | grep -q '0.0.0.0:${PROXY_PORTS.gemini} '`)).code === 0, { intervalMs: 500, ceilingMs: 120_000 });
    const drift = await cliReadOnly(['drift', '--env', ENV]);
    await expectExit(drift, 2, e);
    assert.match(drift.stdout, new RegExp(`gemini-proxy\\.service: listens on 0\\.0\\.0\\.0 port ${PROXY_PORTS.gemini}; configured loopback only — listens where it must not`));
    const plan = await cliReadOnly(['plan', '--env', ENV, '--read-only']);
    await expectExit(plan, 0, e);
    assert.match(plan.stdout, /Listening where the configuration does not say:\n {2}! gemini-proxy\.service {2}— listens on 0\.0\.0\.0/);
    // apply puts the unit back; the proxy listens on loopback again, and drift is clean of it.
    await expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0, e);
    const clean = await cliReadOnly(['drift', '--env', ENV]);
    assert.doesNotMatch(clean.stdout, /listens where it must not/);
  });

  it("drift as the read-only user runs the host's deep audit and names a finding that appeared after the apply; apply makes the state folder private again", async () => {
    // By hand, on the host: OpenClaw's state folder readable by every user.
    await e.sh(`sudo chmod 755 ${STATE}`);
    const drift = await cliReadOnly(['drift', '--env', ENV]);
    await expectExit(drift, 2, e);
    assert.match(drift.stdout, new RegExp(`${STATE}: mode 755 → 700 — changed on the host by hand`));
    assert.match(drift.stdout, /security audit --deep: \w+ fs\.state_dir\.perms_readable \([^)]+\) — new security finding since the release/);
    // A warning the environment accepts is not drift.
    assert.doesNotMatch(drift.stdout, /models\.weak_tier/);
    await expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0, e);
    assert.equal((await e.sh(`stat -c %a:%U ${STATE}`)).trim(), '700:ubuntu');
    const clean = await cliReadOnly(['drift', '--env', ENV, '--json']);
    await expectExit(clean, 0, e);
    const report = JSON.parse(clean.stdout) as { drift: unknown[] };
    assert.deepEqual(report.drift, []);
  });

  it('no run printed a secret value or a key', () => {
    for (const r of e.runs) assert.deepEqual(leakedSecrets(r.stdout + r.stderr, e.secretValues), [], `clawops ${r.args.join(' ')}`);
  });
});
