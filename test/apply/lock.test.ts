import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockedError } from '../../src/apply/errors.js';
import { acquireLock, type LockOptions } from '../../src/apply/lock.js';
import { LocalTransport } from '../../src/transport/local.js';

const t = new LocalTransport();
const root = await mkdtemp(join(tmpdir(), 'clawops-lock-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const fresh = async () => ({ clawopsDir: join(root, `host-${n++}`) });

const opts = (over: Partial<LockOptions> = {}): LockOptions => ({
  holder: 'alice@laptop',
  revision: 'abc1234',
  waitMs: 0,
  breakStale: false,
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
  ...over,
});

async function lockedError(p: Promise<unknown>): Promise<LockedError> {
  const err = await p.then(
    () => assert.fail('the lock was taken'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof LockedError, String(err));
  return err;
}

describe('the host lock', () => {
  it('a second apply fails naming the holder, and takes the lock once it is released', async () => {
    const host = await fresh();
    const held = await acquireLock(t, host, opts());
    const err = await lockedError(acquireLock(t, host, opts({ holder: 'bob@ci' })));
    assert.equal(err.holder, 'alice@laptop');
    assert.equal(err.alive, true);
    assert.match(err.message, /locked by alice@laptop since \S+; try again when it finishes/);
    await held.release();
    assert.deepEqual(await readdir(host.clawopsDir), ['digest.key'], 'release leaves nothing behind');
    await (await acquireLock(t, host, opts({ holder: 'bob@ci' }))).release();
  });

  it('a lock taken before the host last started is cleared by the next apply, however fresh its heartbeat; the switch it cut is recorded as interrupted', async () => {
    const host = await fresh();
    const held = await acquireLock(t, host, opts());
    const lock = join(host.clawopsDir, 'lock');
    const since = (JSON.parse(execFileSync('cat', [join(lock, 'holder.json')], { encoding: 'utf8' })) as { since: string }).since;
    // The host lost its power during alice's switch, and came back: another boot id.
    await writeFile(join(lock, 'boot'), '00000000-0000-4000-8000-000000000000\n');
    const cut = join(host.clawopsDir, 'releases', '20261130T000000Z-abc1234');
    const done = join(host.clawopsDir, 'releases', '20261129T000000Z-0000001');
    await mkdir(cut, { recursive: true });
    await mkdir(done, { recursive: true });
    await writeFile(join(cut, 'progress'), 'switching to release 20261130T000000Z-abc1234\n');
    await writeFile(join(done, 'progress'), 'outcome applied\n');
    await writeFile(join(done, 'result'), 'applied\n');
    // The cut switch had kept an old copy of a file it replaced, for an undo that never ran.
    const live = join(host.clawopsDir, 'gateway.env');
    await writeFile(join(cut, 'paths'), `${live}\n`);
    await writeFile(live, 'new\n');
    await writeFile(`${live}.clawops-old`, 'old\n');
    const notices: string[] = [];
    const next = await acquireLock(t, host, opts({ holder: 'bob@ci', notice: (n) => notices.push(n) }));
    assert.deepEqual(notices, [
      `the host restarted during the apply of alice@laptop (since ${since}), which never finished: its lock is cleared, and release 20261130T000000Z-abc1234, whose switch was cut, is recorded as interrupted`,
    ]);
    assert.equal(execFileSync('cat', [join(cut, 'result')], { encoding: 'utf8' }), 'interrupted\n');
    assert.equal(execFileSync('cat', [join(done, 'result')], { encoding: 'utf8' }), 'applied\n', 'a finished release is left as it was');
    assert.deepEqual((await readdir(host.clawopsDir)).filter((f) => f.startsWith('gateway.env')), ['gateway.env'], 'the old copy kept for the undo is gone; the live file stays');
    const audit = JSON.parse(execFileSync('cat', [join(host.clawopsDir, 'audit.log')], { encoding: 'utf8' })) as Record<string, string>;
    assert.deepEqual({ ...audit, time: 'T' }, { time: 'T', holder: 'alice@laptop', revision: 'abc1234', release: '20261130T000000Z-abc1234', outcome: 'interrupted' });
    await next.release();
    await held.release().catch(() => {});
  });

  it('a lock whose holder is gone is stale: refused, and broken only with breakStale', async () => {
    const host = await fresh();
    const lock = join(host.clawopsDir, 'lock');
    await mkdir(lock, { recursive: true });
    await writeFile(join(lock, 'holder.json'), JSON.stringify({ holder: 'carol@old', since: '2026-11-01T00:00:00.000Z' }));
    await writeFile(join(lock, 'pids'), '999999999\n');
    execFileSync('touch', ['-d', '-5 minutes', join(lock, 'holder.json'), join(lock, 'pids'), lock]);
    const err = await lockedError(acquireLock(t, host, opts()));
    assert.equal(err.alive, false);
    assert.match(err.message, /locked by carol@old since 2026-11-01T00:00:00.000Z, which is no longer running: break the stale lock with --break-lock/);
    await (await acquireLock(t, host, opts({ breakStale: true }))).release();
  });

  it('applies contending for the lock take it one at a time, and none mistakes a lock being released or taken for a stale one', async () => {
    const host = await fresh();
    let holding = 0;
    let most = 0;
    const one = async (i: number) => {
      for (let round = 0; round < 5; round++) {
        const held = await acquireLock(t, host, opts({ holder: `apply-${i}`, waitMs: 60_000 }));
        holding++;
        most = Math.max(most, holding);
        await new Promise((r) => setTimeout(r, 5));
        holding--;
        await held.release();
      }
    };
    await Promise.all([0, 1, 2, 3].map(one));
    assert.equal(most, 1);
  });
});
