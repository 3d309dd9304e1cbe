// End to end, what goes wrong around an apply on a real Debian host with systemd
// (scripts/testhost/): applies that contend for the host's lock, a connection cut during the
// switch, a host that offers another key than the pinned one. One host for the whole file, booted
// from the image with the runtime already installed; each scenario starts from the release the
// previous one left, and ends with the host whole on one release.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { waitUntil } from '../support/wait.js';
import { assertAllHealthy, assertHostIs, assertNoSecretLeft, expectExit, rotate, userAt } from './checks.js';
import { CLAWOPS_DIR, currentRelease, ENV, matchingReleases, releaseRecord, startE2E, startStubUpstream, PROXIES, STATE, unitStarts, type CliRun, type E2E, type SpawnedCli } from './support.js';

let e: E2E;

/** Starts an apply and returns once its switch is under way on the host (its first progress line). */
async function applyUntilSwitchStarts(e: E2E): Promise<{ run: SpawnedCli; id: string }> {
  const run = e.spawnCli(['apply', '--env', ENV]);
  const id = (await run.untilStderr(/activate release (\S+)/))[1]!;
  let ended = false;
  void run.done.then(() => (ended = true));
  await waitUntil('the switch to start on the host', async () => (await e.host.run(`test -s ${CLAWOPS_DIR}/releases/${id}/progress`)).code === 0, { alive: () => !ended });
  return { run, id };
}

describe('faults around an apply on a real host', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-faults');
    await startStubUpstream(e);
    await expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0, e);
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
  });

  it('5. two applies at once: one applies, the other fails on the lock naming its holder or waits and finds nothing to do', async () => {
    const rotated = rotate(e, 'DEEPSEEK_API_KEY'); // gateway.env changes: a gateway restart, a long activation
    const first = e.spawnCli(['apply', '--env', ENV]);
    // "facts" is printed once the lock is held. The holder is then paused, so that however fast or
    // slow this machine is, the others find it holding the lock.
    await first.untilStderr(/\] facts/);
    first.child.kill('SIGSTOP');
    let b: CliRun;
    let patient: SpawnedCli;
    try {
      b = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
      // A wait as long as the holder takes: the test's own time limit is the bound.
      patient = e.spawnCli(['apply', '--env', ENV, '--lock-wait', '3600']);
      await patient.untilStderr(/\] lock/);
    } finally {
      first.child.kill('SIGCONT');
    }
    const [a, c] = await Promise.all([first.done, patient.done]);

    await expectExit(a, 0, e);
    assert.match(a.stdout, /Applied release/);
    await expectExit(b, 4, e);
    assert.match(b.stderr, new RegExp(`locked by ${userAt()} since \\S+; try again when it finishes`));
    await expectExit(c, 0, e);
    assert.match(c.stdout, /No changes/);

    await assertHostIs(e, (await currentRelease(e)).id);
    assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/lock && echo held || echo free`)).trim(), 'free');
    assert.match(await e.sh(`sudo grep DEEPSEEK_API_KEY ${STATE}/gateway.env`), new RegExp(`=${rotated}$`, 'm'));
    await assertAllHealthy(e);
  });

  it('6. an SSH connection dropped during activation leaves the host on one release, and the next apply completes', async () => {
    const old = await currentRelease(e);
    rotate(e, 'GROQ_API_KEY'); // a gateway restart again: the activation runs long enough to cut it
    const { run, id } = await applyUntilSwitchStarts(e);
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.notEqual(killed.code, 0);

    // An activation may outlive its client's heartbeat (a slow gateway start): however old the
    // heartbeat, the lock is held while the activation runs, and another apply must not take it.
    await e.sh(`touch -d '-5 minutes' ${CLAWOPS_DIR}/lock/heartbeat && ! test -e ${CLAWOPS_DIR}/releases/${id}/result`);
    const busy = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    await expectExit(busy, 4, e);
    assert.match(busy.stderr, new RegExp(`locked by ${userAt()} since \\S+; try again when it finishes`));

    // The activation goes on by itself on the host, to its end.
    await waitUntil('the activation to finish on the host', async () => (await e.host.run(`test -s ${CLAWOPS_DIR}/releases/${id}/result`)).code === 0, { intervalMs: 500 });
    const outcome = (await e.sh(`cat ${CLAWOPS_DIR}/releases/${id}/result`)).trim();
    assert.equal(outcome, 'applied', `the activation's log on the host:\n${await e.sh(`sudo cat ${CLAWOPS_DIR}/releases/${id}/activate.log`)}`);
    const { matches, mismatches } = await matchingReleases(e, [old, await releaseRecord(e, id)]);
    assert.deepEqual(matches, [id], `a mix of releases on the host: ${JSON.stringify(mismatches)}`);
    assert.equal((await currentRelease(e)).id, id);
    await assertHostIs(e, id);

    // The dead client's lock, now stale: named, and broken when asked; the host already has everything.
    const refused = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    await expectExit(refused, 4, e);
    assert.match(refused.stderr, new RegExp(`locked by ${userAt()} since \\S+, which is no longer running: break the stale lock with --break-lock`));
    const next = await e.cli(['apply', '--env', ENV, '--break-lock']);
    await expectExit(next, 0, e);
    assert.match(next.stdout, /No changes/);
    await assertAllHealthy(e);
  });

  it('7. SIGTERM during the switch (a cancelled job): the CLI says the switch goes on and exits 130; the switch ends on the host and releases the lock', async () => {
    const old = await currentRelease(e);
    rotate(e, 'CEREBRAS_API_KEY'); // a gateway restart: a switch long enough to interrupt
    const { run, id } = await applyUntilSwitchStarts(e);
    run.child.kill('SIGTERM');
    const stopped = await run.done;
    await expectExit(stopped, 130, e);
    assert.match(stopped.stderr, /^SIGTERM: stopping \(again to end at once\)$/m);
    assert.match(stopped.stderr, new RegExp(`^error: \\S+: activate: interrupted during the switch to release ${id}: the switch goes on on the host and releases the lock when it ends`, 'm'));

    // The switch ends by itself, and the lock goes with it: no --break-lock, no wait.
    await waitUntil('the switch to end on the host and release the lock', async () => (await e.host.run(`test -s ${CLAWOPS_DIR}/releases/${id}/result && ! test -e ${CLAWOPS_DIR}/lock`)).code === 0, { intervalMs: 500 });
    assert.equal((await e.sh(`cat ${CLAWOPS_DIR}/releases/${id}/result`)).trim(), 'applied');
    const { matches } = await matchingReleases(e, [old, await releaseRecord(e, id)]);
    assert.deepEqual(matches, [id]);
    const next = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    await expectExit(next, 0, e);
    assert.match(next.stdout, /No changes/);
    await assertAllHealthy(e);
  });

  it('8. an SSH user without passwordless sudo: apply refuses after the facts, naming the permission and the line to add, and changes nothing', async () => {
    const before = await currentRelease(e);
    // sudo now asks ubuntu for a password, except for the one command that puts the rule back.
    const rule = '/etc/sudoers.d/90-ubuntu';
    await e.sh(
      `sudo cp ${rule} /root/90-ubuntu && printf 'ubuntu ALL=(ALL) PASSWD:ALL\\nubuntu ALL=(root) NOPASSWD: /usr/bin/cp /root/90-ubuntu ${rule}\\n' | sudo tee ${rule}.new >/dev/null && sudo chmod 440 ${rule}.new && sudo visudo -cqf ${rule}.new && sudo mv ${rule}.new ${rule}`,
    );
    const rotated = rotate(e, 'OPENROUTER_API_KEY');
    try {
      assert.notEqual((await e.host.run('sudo -n true')).code, 0, 'sudo asks for a password now');
      const refused = await e.cli(['apply', '--env', ENV]);
      await expectExit(refused, 1, e);
      const errors = refused.stderr.split('\n').filter((l) => l.startsWith('error:'));
      assert.equal(errors.length, 1, refused.stderr);
      assert.equal(
        errors[0]!.replace(/^error: ubuntu@\S+: /, ''),
        `privileges: ubuntu cannot run sudo without a password, which clawops needs to install the units, the runtime and files owned by others; nothing was changed. As root on the host: echo 'ubuntu ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-clawops && chmod 440 /etc/sudoers.d/90-clawops`,
      );
      assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/lock && echo held || echo free`)).trim(), 'free');
    } finally {
      await e.sh(`sudo -n /usr/bin/cp /root/90-ubuntu ${rule}`);
    }
    assert.equal((await currentRelease(e)).id, before.id, 'still on the release before');
    await expectExit(await e.cli(['apply', '--env', ENV]), 0, e);
    assert.match(await e.sh(`sudo grep OPENROUTER_API_KEY ${STATE}/proxies/*/proxy.env ${STATE}/gateway.env || true`), new RegExp(rotated));
    await assertAllHealthy(e);
  });

  it('9. a wrong pinned host key is refused before anything is sent', async () => {
    const env = 'config/environments/testhost.yaml';
    const dir = await mkdtemp(join(tmpdir(), 'clawops-e2e-key-'));
    let undo: (() => Promise<void>) | undefined;
    try {
      await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      const wrong = (await readFile(join(dir, 'k.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      const right = e.host.knownHostsLine.split(' ').slice(1, 3).join(' ');
      undo = await e.editRepo(env, (t) => t.replace(`hostKey: ${right}`, `hostKey: ${wrong}`));
      const before = await e.sh(`sudo ls -l --time-style=+%s.%N ${CLAWOPS_DIR} ${CLAWOPS_DIR}/releases; sudo sha256sum ${CLAWOPS_DIR}/audit.log`);
      const from = Date.now() / 1000;
      const plan = await e.cli(['plan', '--env', ENV]);
      const apply = await e.cli(['apply', '--env', ENV]);
      for (const run of [plan, apply]) {
        await expectExit(run, 1, e);
        assert.match(run.stderr, /host key mismatch/);
        assert.ok(run.stderr.includes(e.host.hostKeyFingerprint), 'names the key the host offered');
        assert.match(run.stderr, /nothing was sent/);
      }
      // sshd's own account of the runs' connections: each ended before authentication ([preauth]),
      // and no key was offered on any. sshd logs the end a moment after the client has gone; the
      // test's own logins to read the journal are on other ports. Lines by sshd's name, not its unit:
      // the process that logs the end may be gone before journald can tell its unit.
      let journal = '';
      const ports = await waitUntil(
        'sshd to log the end of the connections',
        async () => {
          journal = (await e.sh(`sudo journalctl -t sshd --no-pager -o short-unix --since @${Math.floor(from)}`))
            .split('\n')
            .filter((l) => Number(l.split(' ')[0]) >= from)
            .join('\n');
          const found = [...journal.matchAll(/Disconnected from \S+ port (\d+) \[preauth\]/g)].map((m) => m[1]!);
          return found.length >= 1 && found;
        },
        { describe: () => journal },
      );
      for (const port of ports) {
        assert.doesNotMatch(journal, new RegExp(`(Accepted|Failed) publickey .* port ${port}\\b|authenticating user .* port ${port}\\b`), `sshd saw an authentication attempt on port ${port}`);
      }
      assert.equal(await e.sh(`sudo ls -l --time-style=+%s.%N ${CLAWOPS_DIR} ${CLAWOPS_DIR}/releases; sudo sha256sum ${CLAWOPS_DIR}/audit.log`), before, 'the host changed');
    } finally {
      await undo?.();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('10. a full disk where the switch writes: the release is rolled back by rename, the message names the disk, nothing restarts and nothing is left behind', async () => {
    const before = await currentRelease(e);
    const dir = `${PROXIES}/mistral`;
    const rotated = rotate(e, 'MISTRAL_API_KEY'); // mistral's proxy.env changes, and only it
    const starts = await unitStarts(e);
    // The proxy's folder becomes a small filesystem of its own (its files copied in), then full.
    await e.sh(`sudo cp -a ${dir} /root/mistral && sudo mount -t tmpfs -o size=256k,mode=0700,uid=1000,gid=1000 tmpfs ${dir} && sudo cp -a /root/mistral/. ${dir}/ && (sudo dd if=/dev/zero of=${dir}/filler bs=4k 2>/dev/null || true)`);
    try {
      const run = await e.cli(['apply', '--env', ENV]);
      await expectExit(run, 3, e);
      assert.match(run.stdout, new RegExp(`^Rolled back: write failed: ${dir}/proxy\\.env: No space left on device \\(0 free on ${dir}\\), and ${ENV} is back on its previous release\\.$`, 'm'));
      assert.doesNotMatch(run.stdout + run.stderr, /could not be restored/);
      assert.equal((await currentRelease(e)).id, before.id);
      await assertHostIs(e, before.id);
      assert.deepEqual(await unitStarts(e), starts, 'nothing restarted: no file had changed under a running unit');
      assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/lock && echo held || echo free`)).trim(), 'free');
    } finally {
      await e.sh(`sudo umount ${dir} && sudo rm -rf /root/mistral`);
    }
    await expectExit(await e.cli(['apply', '--env', ENV]), 0, e);
    assert.match(await e.sh(`sudo cat ${dir}/proxy.env`), new RegExp(`=${rotated}$`, 'm'));
    await assertAllHealthy(e);
  });

  it('11. a full disk where the release is staged: refused before anything is written, naming the disk, the free space and the need', async () => {
    const before = await currentRelease(e);
    const dir = `${CLAWOPS_DIR}/releases`;
    rotate(e, 'GEMINI_API_KEY');
    const audit = await e.sh(`sudo sha256sum ${CLAWOPS_DIR}/audit.log`);
    await e.sh(`sudo cp -a ${dir} /root/releases && sudo mount -t tmpfs -o size=32m,mode=0755,uid=1000,gid=1000 tmpfs ${dir} && sudo cp -a /root/releases/. ${dir}/ && (sudo dd if=/dev/zero of=${dir}/.filler bs=64k 2>/dev/null || true) && sudo rm -f ${dir}/.filler && sudo dd if=/dev/zero of=${dir}/.filler bs=1k count=$(( $(df -B1k --output=avail ${dir} | tail -n 1) - 64 )) 2>/dev/null`);
    let listing = '';
    try {
      listing = await e.sh(`ls -a ${dir}`);
      const run = await e.cli(['apply', '--env', ENV]);
      await expectExit(run, 1, e);
      const errors = run.stderr.split('\n').filter((l) => l.startsWith('error:'));
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0]!, new RegExp(`: stage: not enough free space on ${dir}: \\d+ KiB free, [\\d.]+ MiB needed for release \\S+ \\(with 4\\.0 MiB to spare\\); nothing was changed\\. Free space on the host and apply again$`));
      assert.equal(await e.sh(`ls -a ${dir}`), listing, 'no release folder was made');
      assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/lock && echo held || echo free`)).trim(), 'free');
    } finally {
      await e.sh(`sudo umount ${dir} && sudo rm -rf /root/releases`);
    }
    assert.equal((await currentRelease(e)).id, before.id);
    assert.equal(await e.sh(`sudo sha256sum ${CLAWOPS_DIR}/audit.log`), audit);
    await expectExit(await e.cli(['apply', '--env', ENV]), 0, e);
    await assertAllHealthy(e);
  });

  it('12. a power cut during the switch: once the host is up again, plan names the lock it left, and the next apply records the cut release as interrupted and goes on without --break-lock', async () => {
    rotate(e, 'DEEPSEEK_API_KEY'); // a gateway restart: a switch long enough to cut
    const { run, id } = await applyUntilSwitchStarts(e);
    await e.host.crash();
    run.child.kill('SIGKILL');
    await run.done;
    await e.host.bootAgain();
    await startStubUpstream(e);
    // The units start at boot by themselves; the smoke after the next apply needs them serving.
    await waitUntil('the host to serve again after its boot', async () => assertAllHealthy(e).then(() => true, () => false), { intervalMs: 1000 });
    assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/releases/${id}/result && echo ended || echo cut`)).trim(), 'cut', 'the switch was cut before its end');

    const plan = await e.cli(['plan', '--env', ENV]);
    assert.match(plan.stdout, new RegExp(`^The host is locked by ${userAt()} since \\S+, whose apply was cut short by a restart of the host \\(a power cut or a reboot\\): the next apply clears the lock by itself\\.$`, 'm'));

    const next = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    await expectExit(next, 0, e);
    assert.match(next.stderr, new RegExp(`the host restarted during the apply of ${userAt()} \\(since \\S+\\), which never finished: its lock is cleared, and release ${id}, whose switch was cut, is recorded as interrupted`));
    assert.equal((await e.sh(`cat ${CLAWOPS_DIR}/releases/${id}/result`)).trim(), 'interrupted');
    const audit = (await e.sh(`sudo cat ${CLAWOPS_DIR}/audit.log`)).trim().split('\n').map((l) => JSON.parse(l) as { release: string; outcome: string });
    assert.ok(audit.some((a) => a.release === id && a.outcome === 'interrupted'), 'the audit log says what the cut left');
    // Whichever release the cut left the link on, the host is now whole on the one that is live.
    await assertHostIs(e, (await currentRelease(e)).id);
    await expectExit(await e.cli(['drift', '--env', ENV]), 0, e);
    await assertAllHealthy(e);
  });

  it('no secret value appears in any CLI output, nor in the logs clawops keeps on the host', async () => {
    await assertNoSecretLeft(e, 9);
  });
});
