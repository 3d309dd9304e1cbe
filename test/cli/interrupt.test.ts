/**
 * An apply interrupted before the switch (Ctrl-C, or the SIGTERM of a cancelled Actions job) stops
 * at once, releases the host's lock and says that nothing live changed; the next apply goes ahead
 * without waiting or --break-lock. The host is this machine behind an SSH stand-in on loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../support/repo.js';
import { clawops, clawopsOnTerminal, type Run } from '../support/cli.js';
import { remoteFixture } from '../support/ssh-standin.js';
import { waitUntil } from '../support/wait.js';

const remote = remoteFixture('interrupt-test');

const lock = () => join(remote.state, '.clawops/lock');

describe('an interrupted apply', () => {
  test('SIGTERM while it waits for approval, holding the lock: exit 130, the lock released, nothing changed', async () => {
    const r = await clawopsOnTerminal(['apply', '--env', 'remote', '--root', remote.root], { env: remote.env, answer: 'SIGTERM' });
    assert.equal(r.code, 130, r.screen);
    assert.match(r.screen, /^SIGTERM: stopping \(again to end at once\)$/m);
    assert.match(r.screen, /^error: \S+: approve: interrupted before the switch: the host still runs what it ran, and nothing live was changed$/m);
    assert.equal(existsSync(lock()), false, 'the lock is released');
    assert.equal(existsSync(join(remote.state, 'openclaw.json')), false, 'nothing was written');

    const next = await clawops(['apply', '--env', 'remote', '--auto-approve', '--lock-wait', '0', '--root', remote.root], { env: remote.env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /^Applied release \S+ to remote\.$/m);
  });

  test('Ctrl-C while it waits on another apply\'s lock: exit 130 at once, and that lock is left to its holder', async () => {
    await mkdir(lock(), { recursive: true });
    const holder = JSON.stringify({ holder: 'ci-runner@build-9', since: '2026-11-30T10:00:00.000Z', revision: 'abc' });
    await writeFile(join(lock(), 'holder.json'), holder);
    await writeFile(join(lock(), 'heartbeat'), '');
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/clawops.js'), 'apply', '--env', 'remote', '--auto-approve', '--lock-wait', '600', '--root', remote.root], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...remote.env },
    });
    const run: Run = { code: -1, stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (run.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    await waitUntil('the apply to wait on the lock', () => /waiting for the lock: held by ci-runner@build-9/.test(run.stderr) || undefined, { describe: () => run.stderr });
    child.kill('SIGINT');
    run.code = await exited;
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /^Ctrl-C: stopping \(again to end at once\)$/m);
    assert.match(run.stderr, /^error: \S+: lock: interrupted before the switch/m);
    assert.equal(await readFile(join(lock(), 'holder.json'), 'utf8'), holder, 'the other apply still holds its lock');
  });
});
