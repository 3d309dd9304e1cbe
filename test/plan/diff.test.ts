import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { HostFacts } from '../../src/plan/facts.js';
import { recordDigest } from '../../src/plan/digest.js';
import { diff } from '../../src/plan/diff.js';
import { summaryLine } from '../../src/plan/model.js';
import { driftItems } from '../../src/report/drift.js';
import type { DesiredState } from '../../src/render/desired.js';

interface Case {
  name: string;
  desired: DesiredState;
  facts: HostFacts;
  secrets: Record<string, string> | null;
  expect: { summary: string; files: string[][]; services: string[][]; daemonReload: boolean; uncompared?: string[] };
}

const { cases } = JSON.parse(await readFile(new URL('./fixtures/diff-cases.json', import.meta.url), 'utf8')) as { cases: Case[] };
const summary = { chain: ['a/x', 'b/y'], providers: {}, agents: {} };

describe('diff(desired, facts) → changes (fixtures in test/plan/fixtures/diff-cases.json)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const plan = diff({
        desired: c.desired,
        facts: c.facts,
        summary,
        ...(c.secrets ? { secrets: (n: string) => c.secrets![n] } : {}),
        target: 'ubuntu@test',
        revision: 'rev',
      });
      assert.equal(summaryLine(plan), c.expect.summary);
      const changed = plan.files.filter((f) => f.action !== 'no-op' || c.expect.files.some(([p]) => p === f.path));
      assert.deepEqual(
        changed.map((f) => [f.path, f.action, f.reason, ...(f.cause ? [f.cause] : [])]),
        c.expect.files,
      );
      assert.deepEqual(plan.services.map((s) => [s.name, s.action, s.reason]), c.expect.services);
      assert.equal(plan.daemonReload, c.expect.daemonReload);
      assert.deepEqual(plan.uncompared, c.expect.uncompared ?? []);
    });
  }

  test('drift tells a hand edit of a mode, an owner, a deletion or a unit disabled at boot from a merge not yet applied', () => {
    const c = cases[0]!;
    const causes = (facts: HostFacts, desired: DesiredState = c.desired) => {
      const plan = diff({ desired, facts, summary, target: 't', revision: 'r' });
      return driftItems(plan).map((i) => [i.path, i.what, i.cause]);
    };
    const json = '/srv/.openclaw/openclaw.json';
    const chmod = structuredClone(c.facts);
    chmod.files[json]!.mode = '644';
    assert.deepEqual(causes(chmod), [[json, 'mode 644 → 600', 'changed on the host by hand']]);
    const chown = structuredClone(c.facts);
    chown.files['/etc/systemd/system/gemini-proxy.service']!.owner = 'ubuntu';
    chown.release!.files['/etc/systemd/system/gemini-proxy.service']!.owner = 'root'; // as apply records it
    assert.deepEqual(causes(chown), [['/etc/systemd/system/gemini-proxy.service', 'owner ubuntu → root', 'changed on the host by hand']]);
    const deleted = structuredClone(c.facts);
    deleted.files[json] = null;
    assert.deepEqual(causes(deleted), [[json, 'deleted on the host', 'changed on the host by hand']]);
    const disabled = structuredClone(c.facts);
    disabled.units['gemini-proxy.service']!.enabled = 'disabled';
    assert.deepEqual(causes(disabled), [['gemini-proxy.service', 'not enabled at boot: it would not start after a reboot', 'changed on the host by hand']]);
    // The repository asks for another mode than the release wrote, and the host is as released.
    const merged = structuredClone(c.desired);
    merged.files.find((f) => f.path === json)!.mode = 0o640;
    assert.deepEqual(causes(c.facts, merged), [[json, 'mode 600 → 640', 'merged but not yet applied']]);
  });

  test('the same inputs give the same plan, including its facts digest', () => {
    const c = cases[0]!;
    const a = diff({ desired: c.desired, facts: c.facts, summary, target: 't', revision: 'r' });
    const b = diff({ desired: structuredClone(c.desired), facts: structuredClone(c.facts), summary, target: 't', revision: 'r' });
    assert.deepEqual(a, b);
  });

  test('the facts digest moves when a file on the host changes, not when the lock does', () => {
    const c = cases[0]!;
    const base = diff({ desired: c.desired, facts: c.facts, summary, target: 't', revision: 'r' }).factsDigest;
    const locked = diff({ desired: c.desired, facts: { ...c.facts, lock: { holder: 'x', since: 'now', revision: 'r', alive: true } }, summary, target: 't', revision: 'r' });
    assert.equal(locked.factsDigest, base);
    const edited = structuredClone(c.facts);
    edited.files['/srv/.openclaw/openclaw.json']!.sha256 = '0'.repeat(64);
    assert.notEqual(diff({ desired: c.desired, facts: edited, summary, target: 't', revision: 'r' }).factsDigest, base);
  });
});

test("the read-only user's facts (a file holding secrets keyed on the host, no key) plan as the deploying user's do: the same facts digest, a hand edit told from a merge, values left to apply", () => {
  const c = cases.find((x) => x.name.startsWith('a rotated secret'))!;
  const env = '/srv/.openclaw/gateway.env';
  const deploying = structuredClone(c.facts);
  deploying.digestKey = 'host-digest-key';
  const asRecorded = (facts: HostFacts) => recordDigest(facts.files[env]!.sha256, true, 'host-digest-key');
  deploying.release!.files[env]!.digest = asRecorded(deploying);
  const readOnly = structuredClone(deploying);
  readOnly.digestKey = null;
  readOnly.files[env]!.sha256 = asRecorded(deploying);
  const plan = (facts: HostFacts, secrets?: Record<string, string>) =>
    diff({ desired: c.desired, facts, summary, ...(secrets ? { secrets: (n: string) => secrets[n] } : {}), target: 't', revision: 'r' });
  assert.equal(plan(readOnly).factsDigest, plan(deploying).factsDigest);
  assert.deepEqual(plan(readOnly).uncompared, [env]);
  // Values at hand, but not the key the host keyed its digest with: still left to apply.
  assert.deepEqual(plan(readOnly, c.secrets!).uncompared, [env]);
  assert.equal(plan(readOnly, c.secrets!).secretsDigest, undefined);
  // The deploying user's plan compares them: the rotated value changes the file.
  assert.deepEqual(plan(deploying, c.secrets!).files.filter((f) => f.path === env).map((f) => [f.action, f.reason, f.cause]), [['update', 'content differs', 'not-yet-applied']]);
  // The file re-moded by hand: both tell it was the host, not the repository.
  for (const facts of [readOnly, deploying]) {
    const edited = structuredClone(facts);
    edited.files[env]!.mode = '644';
    assert.deepEqual(plan(edited).files.filter((f) => f.path === env).map((f) => f.cause), ['changed-on-host']);
  }
  // Its content edited by hand: no value needed to see that it is not what the release wrote.
  const handEdited = structuredClone(readOnly);
  handEdited.files[env]!.sha256 = recordDigest('0'.repeat(64), true, 'host-digest-key');
  assert.deepEqual(plan(handEdited).files.filter((f) => f.path === env).map((f) => [f.action, f.reason, f.cause]), [['update', 'content differs', 'changed-on-host']]);
  assert.deepEqual(plan(handEdited).uncompared, []);
});

test("what systemd reads for a managed unit that clawops did not write is an override: drop-ins anywhere, a unit file that shadows clawops's; the distribution's drop-ins for every service are not", () => {
  const c = cases[0]!;
  const facts: HostFacts = {
    ...c.facts,
    units: {
      ...c.facts.units,
      'gemini-proxy.service': {
        active: 'active',
        enabled: 'enabled',
        fragment: '/run/systemd/system/gemini-proxy.service',
        dropIns: ['/usr/lib/systemd/system/service.d/10-timeout-abort.conf', '/usr/lib/systemd/system/gemini-proxy.service.d/x.conf', '/etc/systemd/system/gemini-proxy.service.d/override.conf'],
      },
      'openclaw-gateway.service': { active: 'active', enabled: 'enabled', fragment: '/etc/systemd/system/openclaw-gateway.service' },
    },
  };
  const plan = diff({ desired: c.desired, facts, summary, target: 't', revision: 'r' });
  assert.deepEqual(plan.overrides, [
    { unit: 'gemini-proxy.service', path: '/run/systemd/system/gemini-proxy.service', kind: 'unit file' },
    { unit: 'gemini-proxy.service', path: '/usr/lib/systemd/system/gemini-proxy.service.d/x.conf', kind: 'drop-in' },
    { unit: 'gemini-proxy.service', path: '/etc/systemd/system/gemini-proxy.service.d/override.conf', kind: 'drop-in' },
  ]);
  assert.deepEqual(plan.services.find((s) => s.name === 'gemini-proxy.service'), {
    name: 'gemini-proxy.service',
    action: 'restart',
    reason: 'without gemini-proxy.service, x.conf, override.conf, which clawops did not write',
    enable: false,
  });
  assert.equal(plan.daemonReload, true);
  assert.equal(summaryLine(plan), 'Plan: 0 to add, 0 to change, 3 to destroy; restarts: gemini-proxy');
  assert.deepEqual(
    driftItems(plan).map((i) => `${i.path}: ${i.what} — ${i.cause}`),
    [
      '/run/systemd/system/gemini-proxy.service: unit file of gemini-proxy.service that clawops did not write — changed on the host by hand',
      '/usr/lib/systemd/system/gemini-proxy.service.d/x.conf: drop-in of gemini-proxy.service that clawops did not write — changed on the host by hand',
      '/etc/systemd/system/gemini-proxy.service.d/override.conf: drop-in of gemini-proxy.service that clawops did not write — changed on the host by hand',
    ],
  );
});

test("a change of OpenClaw's version over a live release copies its state first, whether or not the new version must be installed; no live release, no copy", () => {
  const c = cases[0]!;
  const to = c.desired.host.runtime!.openclaw!.version;
  const live = { ...c.facts.release!, runtime: { node: '24.21.0', openclaw: '2026.9.5' } };
  const plan = diff({ desired: c.desired, facts: { ...c.facts, release: live }, summary, target: 't', revision: 'r' });
  assert.deepEqual(plan.openclawState, { action: 'copy', from: '2026.9.5', to });
  assert.equal(diff({ desired: c.desired, facts: { ...c.facts, release: { ...live, runtime: { node: '24.21.0', openclaw: to } } }, summary, target: 't', revision: 'r' }).openclawState, undefined);
  assert.equal(diff({ desired: c.desired, facts: { ...c.facts, release: null }, summary, target: 't', revision: 'r' }).openclawState, undefined);
});

describe('the TLS hop in a plan', async () => {
  const { repoConfig, FIXED_CONTEXT } = await import('../support/repo.js');
  const { hostRunning } = await import('../support/pr-fixture.js');
  const { renderPlanText } = await import('../../src/report/terminal.js');
  const config = await repoConfig();
  const { render } = await import('../../src/render/render.js');
  const desired = render(config, 'ec2', FIXED_CONTEXT);
  const secrets = (n: string) => `value-of-${n.toLowerCase()}`;
  const running = hostRunning(desired, secrets, summary);

  test('a host without caddy plans its install from Debian\'s archive, and Debian\'s running caddy.service plans a stop', () => {
    const facts: HostFacts = { ...running, packages: { caddy: null }, units: { ...running.units, 'caddy.service': { active: 'active', enabled: 'enabled' } } };
    const plan = diff({ desired, facts, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    assert.deepEqual(plan.runtime.find((r) => r.component === 'caddy'), { component: 'caddy', from: null, to: "Debian's archive (apt)", action: 'install' });
    const stop = plan.services.find((s) => s.name === 'caddy.service');
    assert.equal(stop?.action, 'stop');
    assert.match(stop!.reason, /^active, enabled: Debian's own Caddy: it serves :80/);
    const text = renderPlanText(plan);
    assert.match(text, /\+ caddy \(none\) → Debian's archive \(apt\)/);
    assert.match(text, /caddy\.service/);
    assert.ok(driftItems(plan).some((i) => i.path === 'caddy' && i.cause === 'runtime differs'));
  });

  test("OpenClaw's state folder loosened on the host is a mode change, by hand; one a release never kept is the repository's", async () => {
    const state = desired.folders![0]!;
    assert.deepEqual(state, { path: '/home/ubuntu/.openclaw', mode: 0o700, owner: 'ubuntu' });
    const loose: HostFacts = { ...running, folders: { [state.path]: { mode: '755', owner: 'ubuntu' } } };
    const plan = diff({ desired, facts: loose, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    const change = plan.files.find((f) => f.path === state.path);
    assert.deepEqual(change, { path: state.path, role: 'folder', sensitive: false, action: 'update', reason: 'mode 755 → 700', cause: 'changed-on-host' });
    assert.equal(summaryLine(plan), 'Plan: 0 to add, 1 to change, 0 to destroy');
    assert.match(renderPlanText(plan), /~ \/home\/ubuntu\/\.openclaw .*mode 755 → 700/);
    assert.deepEqual(driftItems(plan).map((i) => `${i.path}: ${i.what} — ${i.cause}`), ['/home/ubuntu/.openclaw: mode 755 → 700 — changed on the host by hand']);
    const before = diff({ desired, facts: { ...loose, release: { ...loose.release!, folders: undefined } }, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    assert.equal(before.files.find((f) => f.path === state.path)?.cause, 'not-yet-applied');
    // The activation sets it, and only when it differs.
    const { activationScript } = await import('../../src/apply/activate.js');
    const input = { desired, releaseId: 'r2', previous: 'r1', removed: [], gateSeconds: 60, audit: { holder: 'h', revision: 'rev', planDigest: 'd' } };
    assert.match(activationScript({ ...input, plan }), /keep_folder '\/home\/ubuntu\/\.openclaw' 700 'ubuntu' \|\| return 1/);
    assert.doesNotMatch(activationScript({ ...input, plan: diff({ desired, facts: running, summary, secrets, target: 'ubuntu@test', revision: 'rev' }) }), /keep_folder '/);
  });

  test("drift's deep audit: a critical finding and a warning neither accepted nor found at apply are new; the rest is not", () => {
    const audit = { findings: [
      { severity: 'critical', checkId: 'gateway.bind_no_auth', title: 'No auth' },
      { severity: 'warn', checkId: 'models.weak_tier', title: 'Weak models' },
      { severity: 'warn', checkId: 'fs.state_dir.perms_readable', title: 'State dir readable' },
      { severity: 'warn', checkId: 'tools.known_at_apply', title: 'Found at apply' },
      { severity: 'warn', checkId: 'gateway.probe_failed', title: 'Probe failed' },
      { severity: 'info', checkId: 'x.info', title: 'Info' },
    ] };
    const release = { ...running.release!, securityFindings: [{ checkId: 'tools.known_at_apply', severity: 'warn' }, { checkId: 'gateway.bind_no_auth', severity: 'critical' }] };
    const plan = diff({ desired, facts: { ...running, release, audit }, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    assert.deepEqual(driftItems(plan).map((i) => `${i.path}: ${i.what} — ${i.cause}`), [
      'security audit --deep: critical gateway.bind_no_auth (No auth) — new security finding since the release',
      'security audit --deep: warn fs.state_dir.perms_readable (State dir readable) — new security finding since the release',
    ]);
    assert.equal(summaryLine(plan), 'No changes. The host matches the configuration.', 'a finding is drift, not a change apply makes');
    const failed = diff({ desired, facts: { ...running, audit: { error: 'exit 1, and no JSON report' } }, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    assert.deepEqual(driftItems(failed).map((i) => i.cause), ['security audit did not run']);
    assert.equal(diff({ desired, facts: running, summary, secrets, target: 'ubuntu@test', revision: 'rev' }).securityAudit, undefined, 'a plan runs no audit');
  });

  test('with caddy installed and Debian\'s unit off, nothing to do', () => {
    const plan = diff({ desired, facts: running, summary, secrets, target: 'ubuntu@test', revision: 'rev' });
    assert.equal(summaryLine(plan), 'No changes. The host matches the configuration.');
    assert.equal(plan.services.some((s) => s.name === 'caddy.service'), false);
  });
});
