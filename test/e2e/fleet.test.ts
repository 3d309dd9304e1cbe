// End to end, a fleet: three real Debian test hosts (scripts/testhost/), booted at once, named in
// one environment's target.hosts. apply rolls a release out in batches; one host is made to fail
// its health gate (a port its proxy moves to is already taken there, and only there), and the
// rollout stops: the host done before it serves the new release, the failing one is back on its
// old one, and the one after it is never touched. Each host's deep security audit runs after its
// apply; a warning the environment stops accepting fails the first host there, and the rollout
// stops. The hosts failing to come up fails every test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { assertAllHealthy, assertHostIs, assertNoSecretLeft, expectExit, MISTRAL } from './checks.js';
import { CLAWOPS_DIR, currentRelease, ENV, NODE, releaseIds, startE2E, unitStates, UNITS, type E2E } from './support.js';

let fleet: E2E[] = [];
/** The CLI runs from the first host's scratch repository, with its secrets and SSH key. */
let e: E2E;
/** The port the mistral proxy moves to, taken on the second host only. */
const TAKEN = 18795;

const hostKeyOf = (h: E2E) => h.host.knownHostsLine.split(' ').slice(1, 3).join(' ');

describe('a fleet of three hosts rolled out in health-gated batches', { timeout: 40 * 60_000 }, () => {
  before(async () => {
    const booted = await Promise.allSettled(['fleet-a', 'fleet-b', 'fleet-c'].map((n) => startE2E(n)));
    fleet = booted.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
    const failed = booted.find((b) => b.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    e = fleet[0]!;
    // One key logs in everywhere, as one deploy key does on a real fleet.
    const publicKey = execFileSync('ssh-keygen', ['-y', '-f', e.host.privateKeyPath], { encoding: 'utf8' });
    for (const h of fleet.slice(1)) await h.sh('cat >> ~/.ssh/authorized_keys', publicKey);
    const hosts = fleet.map((h, i) => `    - name: ${'abc'[i]}\n      host: ${h.host.host}\n      port: ${h.host.port}\n      hostKey: ${hostKeyOf(h)}\n`).join('');
    await e.editRepo(`config/environments/${ENV}.yaml`, (t) =>
      t
        .replace(/^ {2}host: .*\n {2}port: .*\n/m, `  hosts:\n${hosts}`)
        .replace(/^ {2}hostKey: .*\n/m, '')
        .replace(/^services: /m, 'rollout:\n  batch: 2\nservices: '),
    );
  }, { timeout: 25 * 60_000 });

  after(async () => {
    // The fleet's runs all start from the first host's repository, so its relay notes every host.
    const others = await Promise.allSettled(fleet.slice(1).map((h) => h.stop({ relayedBy: e })));
    await e.stop();
    for (const o of others) if (o.status === 'rejected') throw o.reason;
  });

  it('validate refuses two hosts of one name, at the file and line', async () => {
    const undo = await e.editRepo(`config/environments/${ENV}.yaml`, (t) => t.replace('    - name: c\n', '    - name: a\n'));
    try {
      const run = await e.cli(['validate']);
      await expectExit(run, 1);
      assert.match(run.stderr + run.stdout, /config\/environments\/testhost\.yaml:\d+:\d+: target\.hosts\[2\]\.name: the host name a is already target\.hosts\[0\]'s/);
    } finally {
      await undo();
    }
  });

  it('a first apply with batch 2 applies two hosts at once, then the third, each healthy, and the report names each', async () => {
    const run = await e.cli(['apply', '--env', ENV]);
    await expectExit(run, 0, fleet[0]);
    assert.match(run.stderr, /^batch 1: a, b$/m);
    assert.match(run.stderr, /^batch 2: c$/m);
    for (const name of 'abc') assert.match(run.stdout, new RegExp(`^ {2}✔ ${name} {2}applied release \\S+ {2}\\(ubuntu@`, 'm'));
    assert.match(run.stdout, /^Rollout finished: 3 of 3 hosts on the new revision\.$/m);
    assert.match(run.stdout, /^Each host passed its deep security audit; the other smoke checks run per host/m);
    for (const [i, h] of fleet.entries()) {
      const states = await unitStates(h);
      for (const u of UNITS) assert.equal(states[u], 'active enabled', `${h.host.name}: ${u}`);
      await assertAllHealthy(h);
      // Each host's deep audit ran after its apply, and what it found is its release's.
      assert.match(run.stderr, new RegExp(`^\\[${'abc'[i]}\\] ✔ security audit --deep: no critical finding, no unaccepted warning; 1 accepted \\(models\\.weak_tier\\)`, 'm'));
      const record = await currentRelease(h);
      assert.ok(record.securityFindings?.some((f) => f.checkId === 'models.weak_tier' && f.severity === 'warn'), `${h.host.name}: ${JSON.stringify(record.securityFindings)}`);
    }
  });

  it('plan and drift report each host', async () => {
    const plan = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    await expectExit(plan, 0);
    for (const name of 'abc') assert.match(plan.stdout, new RegExp(`^── ${name}: ubuntu@\\S+ ──$`, 'm'));
    assert.match(plan.stdout, /^Fleet testhost: 0 of 3 hosts would change\.$/m);
    await fleet[2]!.sh('sudo systemctl stop kimi-proxy.service');
    try {
      const drift = await e.cli(['drift', '--env', ENV, '--json']);
      await expectExit(drift, 2);
      const report = JSON.parse(drift.stdout) as { hosts: { name: string; drift: { path: string; cause: string }[] }[] };
      assert.deepEqual(report.hosts.map((h) => [h.name, h.drift.map((d) => `${d.path}: ${d.cause}`)]), [
        ['a', []],
        ['b', []],
        ['c', ['kimi-proxy.service: service not running']],
      ]);
    } finally {
      await fleet[2]!.sh('sudo systemctl start kimi-proxy.service');
    }
  });

  it('with batch 1 and the second host failing its health gate, the rollout stops and the third is never touched', async () => {
    const [a, b, c] = fleet as [E2E, E2E, E2E];
    const before = await Promise.all(fleet.map((h) => currentRelease(h)));
    const cReleases = await releaseIds(c);
    const cAudit = await c.sh(`sudo cat ${CLAWOPS_DIR}/audit.log`);
    // The port the proxy moves to is already taken on b, and only there.
    await b.sh(`sudo systemd-run --quiet --unit=fleet-squatter --uid=ubuntu ${NODE} -e "require('net').createServer().listen(${TAKEN}, '127.0.0.1')"`);
    await b.sh(`until (exec 3<>/dev/tcp/127.0.0.1/${TAKEN}) 2>/dev/null; do sleep 0.2; done`);
    await e.editRepo(`config/environments/${ENV}.yaml`, (t) => t.replace('  batch: 2', '  batch: 1'));
    const undo = await e.editRepo(MISTRAL, (t) => t.replace('port: 18791', `port: ${TAKEN}`));
    try {
      const run = await e.cli(['apply', '--env', ENV]);
      await expectExit(run, 3, b);
      assert.match(run.stderr, /^batch 1: a$/m);
      assert.match(run.stderr, /^batch 2: b$/m);
      assert.doesNotMatch(run.stderr, /^batch 3/m);
      assert.doesNotMatch(run.stderr, /^\[c\]/m, 'nothing was done on c');
      const applied = /^ {2}✔ a {2}applied release (\S+) /m.exec(run.stdout)?.[1];
      assert.ok(applied, run.stdout);
      assert.match(run.stdout, new RegExp(`^ {2}✘ b {2}failed at activate: gate failed mistral-proxy\\.service.*; rolled back, on its previous release ${before[1]!.id} `, 'm'));
      assert.match(run.stdout, new RegExp(`^ {2}- c {2}not started: on what it ran before \\(never started\\)`, 'm'));
      assert.match(run.stdout, /^Rollout stopped: 1 of 1 host in batch 2 failed \(more than 0%\); 1 host not started, left on what they ran\.$/m);

      // a: the new release, healthy, its proxy on the new port.
      assert.equal((await currentRelease(a)).id, applied);
      await assertHostIs(a, applied);
      assert.match(await a.sh(`curl -fsS -m 5 http://127.0.0.1:${TAKEN}/healthz`), /"kind":\s*"mistral"/);
      // b: back on its old release, which serves.
      assert.equal((await currentRelease(b)).id, before[1]!.id);
      await assertHostIs(b, before[1]!.id);
      await assertAllHealthy(b);
      // c: untouched, not even locked.
      assert.equal((await currentRelease(c)).id, before[2]!.id);
      assert.deepEqual(await releaseIds(c), cReleases);
      assert.equal(await c.sh(`sudo cat ${CLAWOPS_DIR}/audit.log`), cAudit);
      await assertAllHealthy(c);

      const json = await e.cli(['plan', '--env', ENV, '--json']);
      await expectExit(json, 0);
      const plans = JSON.parse(json.stdout) as { hosts: { name: string; plan: { changes: unknown } }[] };
      assert.deepEqual(plans.hosts.map((h) => h.name), ['a', 'b', 'c']);
    } finally {
      await undo();
      await b.sh('sudo systemctl stop fleet-squatter');
    }
  });

  it('a warning the environment no longer accepts fails the first host at its deep audit: it keeps the release it was given, and the rollout stops there', async () => {
    const [a, b, c] = fleet as [E2E, E2E, E2E];
    const untouched = await Promise.all([b, c].map(async (h) => [await releaseIds(h), await h.sh(`sudo cat ${CLAWOPS_DIR}/audit.log`)]));
    const undo = await e.editRepo(`config/environments/${ENV}.yaml`, (t) => t.replace(/^security:\n {2}accept:\n( {4}.*\n)+/m, ''));
    try {
      const run = await e.cli(['apply', '--env', ENV]);
      await expectExit(run, 1, a);
      assert.match(run.stderr, /^\[a\] ✘ security audit --deep: warn models\.weak_tier \(/m);
      const kept = /^ {2}✘ a {2}failed at security audit --deep: warn models\.weak_tier \(.*\); on release (\S+), kept: fix the findings and apply again, or roll it back /m.exec(run.stdout)?.[1];
      assert.ok(kept, run.stdout);
      assert.match(run.stdout, /^Rollout stopped: 1 of 1 host in batch 1 failed \(more than 0%\); 2 hosts not started, left on what they ran\.$/m);
      // a: on the release it was given, serving, with the finding recorded for drift.
      const record = await currentRelease(a);
      assert.equal(record.id, kept);
      assert.ok(record.securityFindings?.some((f) => f.checkId === 'models.weak_tier'), JSON.stringify(record.securityFindings));
      await assertAllHealthy(a);
      // b and c: never started.
      assert.doesNotMatch(run.stderr, /^\[[bc]\]/m);
      assert.deepEqual(await Promise.all([b, c].map(async (h) => [await releaseIds(h), await h.sh(`sudo cat ${CLAWOPS_DIR}/audit.log`)])), untouched);
    } finally {
      await undo();
    }
  });

  it('no secret value reached any output', async () => {
    await assertNoSecretLeft(e, 6);
  });
});
