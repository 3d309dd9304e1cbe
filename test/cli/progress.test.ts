/**
 * Long steps show what they do: on a terminal, redrawn in place (seconds waited on a lock and for
 * whom, bytes uploaded); off a terminal (CI), one line per step and no redraws.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { SshTransport } from '../../src/transport/ssh.js';
import { clawops, clawopsOnTerminal } from '../support/cli.js';
import { remoteFixture } from '../support/ssh-standin.js';

const remote = remoteFixture('progress-test');

/** Keeps the other apply's heartbeat fresh while a run waits. */
async function whileLocked<T>(run: () => Promise<T>): Promise<T> {
  const beat = () => writeFile(join(remote.state, '.clawops/lock/heartbeat'), '');
  await beat();
  const timer = setInterval(() => void beat(), 5_000);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}

describe('progress of long steps', () => {
  before(async () => {
    // Another apply holds the lock, and is alive (its heartbeat is fresh).
    const lock = join(remote.state, '.clawops/lock');
    await mkdir(lock, { recursive: true });
    await writeFile(join(lock, 'holder.json'), JSON.stringify({ holder: 'ci-runner@build-7', since: '2026-11-30T10:00:00.000Z', revision: 'abc' }));
  });

  // The wait outlasts a few lock round trips however loaded the machine is (each is one SSH exec).
  test('waiting on a lock off a terminal: one line naming the holder, no redraws, exit 4', async () => {
    const r = await whileLocked(() => clawops(['apply', '--env', 'remote', '--auto-approve', '--lock-wait', '6', '--root', remote.root], { env: remote.env }));
    assert.equal(r.code, 4, r.stderr);
    const waits = r.stderr.split('\n').filter((l) => /waiting for the lock/.test(l));
    assert.equal(waits.length, 1, r.stderr);
    assert.match(waits[0]!, /^\[ *\d+\.\ds\] waiting for the lock: held by ci-runner@build-7 since 2026-11-30T10:00:00\.000Z \(up to 6 s\)$/);
    assert.ok(!r.stderr.includes('\r') && !r.stderr.includes('\x1b'), 'no terminal control in a log');
    assert.match(r.stderr, /^error: .*locked by ci-runner@build-7 since 2026-11-30T10:00:00\.000Z/m);
  });

  test('waiting on a lock on a terminal: the seconds waited, redrawn in place', async () => {
    const r = await whileLocked(() => clawopsOnTerminal(['apply', '--env', 'remote', '--auto-approve', '--lock-wait', '6', '--root', remote.root], { env: remote.env }));
    assert.equal(r.code, 4, r.written);
    assert.match(r.written, /\r\x1b\[2K\[ *\d+\.\ds\] waiting for the lock held by ci-runner@build-7: \d+ s/);
    // The status is cleared before the error is written: the screen keeps the error, whole.
    assert.doesNotMatch(r.screen, /waiting for the lock held by/);
    assert.match(r.screen, /^error: .*locked by ci-runner@build-7 since 2026-11-30T10:00:00\.000Z; try again when it finishes$/m);
  });

  test('plan says that the host is locked, by whom and since when, and what an apply would meet', async () => {
    const live = await whileLocked(() => clawops(['plan', '--env', 'remote', '--root', remote.root], { env: remote.env }));
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /^The host is locked by ci-runner@build-7 since 2026-11-30T10:00:00\.000Z, whose apply is still running: an apply now waits for it\.$/m);
    await writeFile(join(remote.state, '.clawops/lock/heartbeat'), '');
    await utimes(join(remote.state, '.clawops/lock/heartbeat'), new Date(Date.now() - 600_000), new Date(Date.now() - 600_000));
    const stale = await clawops(['plan', '--env', 'remote', '--root', remote.root], { env: remote.env });
    assert.match(stale.stdout, /^The host is locked by ci-runner@build-7 since 2026-11-30T10:00:00\.000Z, which is no longer running: an apply needs --break-lock\.$/m);
  });

  test('an upload reports its bytes as they go, up to the whole', async () => {
    const t = await SshTransport.connect({ host: '127.0.0.1', port: remote.ssh.port, user: 'clawops', privateKey: remote.ssh.clientKey, hostKey: remote.ssh.hostKey });
    const seen: [number, number][] = [];
    const content = randomBytes(3 * 1024 * 1024 + 17);
    try {
      await t.put([{ path: join(remote.state, 'upload.bin'), content, mode: 0o600 }], { onProgress: (sent, total) => seen.push([sent, total]) });
    } finally {
      await t.close();
    }
    assert.ok(seen.length > 10, `reported in steps (${seen.length})`);
    assert.ok(seen.every(([, total]) => total === content.length));
    assert.ok(seen.every(([sent], i) => i === 0 || sent >= seen[i - 1]![0]), 'never backwards');
    assert.deepEqual(seen.at(-1), [content.length, content.length]);
    assert.ok((await readFile(join(remote.state, 'upload.bin'))).equals(content));
  });
});
