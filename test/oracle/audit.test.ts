/**
 * OpenClaw's own security audit, run by the version each environment pins, judges what clawops
 * renders: no critical finding, and only the warnings the environment accepts with a reason.
 * These tests fail, never skip, when OpenClaw is not installed.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { auditPasses } from '../../src/audit/findings.js';
import { locateOpenclaw, OpenclawError } from '../../src/audit/openclaw.js';
import { auditEnvironment, checkPin } from '../../src/audit/oracle.js';
import { auditSummaryLine, renderAuditText } from '../../src/report/audit.js';
import { NODE24, OPENCLAW_ENTRY } from '../../scripts/tools.js';
import { clawops, scratchRepo } from '../support/cli.js';
import { FIXED_CONTEXT, repoConfig } from '../support/repo.js';

const config = await repoConfig();
const program = await locateOpenclaw(OPENCLAW_ENTRY);
// OpenClaw runs on the Node 24 of tools/, found as `node` on PATH (as in the workflow).
const processEnv = { PATH: `${dirname(NODE24)}:${process.env.PATH ?? '/usr/bin:/bin'}` };

describe('openclaw security audit of every environment', () => {
  for (const env of config.environments) {
    test(`${env.name}: no critical finding, and every warning accepted with a reason`, async () => {
      const verdict = await auditEnvironment(config, env.name, program, FIXED_CONTEXT, processEnv);
      assert.equal(verdict.openclaw, env.runtime?.openclaw);
      assert.equal(verdict.validate.valid, true, JSON.stringify(verdict.validate.issues));
      assert.deepEqual(verdict.blocking.map((f) => `${f.severity} ${f.checkId}`), [], renderAuditText(verdict));
      // Every acceptance still earns its place: its warning fires.
      assert.deepEqual(verdict.stale, [], renderAuditText(verdict));
      assert.deepEqual(
        verdict.accepted.map((f) => f.checkId),
        (env.security?.accept ?? []).map((a) => a.check),
      );
      assert.ok(auditPasses(verdict));
      // What the render hardens shows in OpenClaw's own words.
      const surface = verdict.info.find((f) => f.checkId === 'summary.attack_surface');
      assert.match(surface?.detail ?? '', /tools\.elevated: disabled/);
      assert.equal(verdict.info.find((f) => f.checkId === 'models.small_params')?.detail?.includes('web=[web_fetch]'), false);
      assert.equal(verdict.info.some((f) => f.checkId === 'security.trust_model.cross_agent_session_access_default'), false);
    });
  }
});

describe('the audit is not a rubber stamp', () => {
  test('ec2 bound to the network with its Control UI back on and no allowed origins: the critical finding blocks', async () => {
    const verdict = await auditEnvironment(config, 'ec2', program, FIXED_CONTEXT, processEnv, (text) => {
      // ec2's gateway binds loopback behind the TLS hop (clawops's own rule covers its Control UI
      // there); bound to the network, OpenClaw's audit sees it for itself.
      const edited = text.replace(/\n {4}"controlUi": \{\n {6}"enabled": false\n {4}\},/, '').replace('"bind": "loopback"', '"bind": "lan"');
      assert.notEqual(edited, text, 'the edit applied');
      return edited;
    });
    assert.equal(verdict.validate.valid, true);
    assert.deepEqual(verdict.blocking.map((f) => `${f.severity} ${f.checkId}`), ['critical gateway.control_ui.allowed_origins_required']);
    assert.equal(auditPasses(verdict), false);
    assert.equal(auditSummaryLine(verdict), 'Audit failed: 1 critical finding (gateway.control_ui.allowed_origins_required).');
  });

  test('clawops audit exits 1 naming the finding, for an edit validate cannot see, and names a stale acceptance', async (t) => {
    const root = await scratchRepo();
    t.after(() => rm(root, { recursive: true, force: true }));
    // A small model whose size is no longer said keeps web tools; an acceptance for a check that does not fire is stale.
    const cerebras = join(root, 'config/providers/cerebras.yaml');
    await writeFile(cerebras, (await readFile(cerebras, 'utf8')).replace('    parametersB: 70\n', ''));
    const ec2 = join(root, 'config/environments/ec2.yaml');
    await writeFile(ec2, (await readFile(ec2, 'utf8')).replace('  accept:\n', '  accept:\n    - check: gateway.auth_no_rate_limit\n      reason: kept from before the rate limit\n'));
    assert.equal((await clawops(['validate', '--root', root])).code, 0, 'validate lets both through');

    const run = await clawops(['audit', '--env', 'ec2', '--root', root, '--openclaw', OPENCLAW_ENTRY], { env: processEnv });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^ {2}✗ critical models\.small_params {2}— Small models require sandboxing and web tools disabled$/m);
    assert.match(run.stdout, /cerebras\/llama-3\.3-70b \(70B\) @ agents\.defaults\.model\.fallbacks \(unsafe; sandbox=off; web=\[web_fetch\]\)/);
    assert.match(run.stdout, /^ {2}\? gateway\.auth_no_rate_limit {2}— kept from before the rate limit$/m);
    assert.match(run.stdout, /^Audit failed: 1 critical finding \(models\.small_params\); 1 stale acceptance \(gateway\.auth_no_rate_limit\)\.$/m);
  });
});

describe('the OpenClaw that judges is the one the environment pins', () => {
  test('another version is refused, naming the environment, its pin and the version installed', () => {
    const env = structuredClone(config.environments.find((e) => e.name === 'ec2')!);
    env.runtime!.openclaw = '2026.10.1';
    assert.throws(
      () => checkPin(env, program),
      (e: unknown) =>
        e instanceof OpenclawError &&
        e.message ===
          `ec2 pins OpenClaw 2026.10.1 (config/environments/ec2.yaml runtime.openclaw), but the OpenClaw at ${OPENCLAW_ENTRY} is ${program.version}: install openclaw@2026.10.1 and pass it with --openclaw to audit ec2`,
    );
  });

  test('so does an environment that pins none', () => {
    const env = structuredClone(config.environments.find((e) => e.name === 'local')!);
    delete env.runtime;
    assert.throws(() => checkPin(env, program), /^OpenclawError: local pins no OpenClaw version \(config\/environments\/local\.yaml runtime\.openclaw\): there is no version to audit it with$/);
  });

  test('every environment pins the OpenClaw the tests run', () => {
    for (const env of config.environments) assert.equal(env.runtime?.openclaw, program.version, env.name);
  });

  test('clawops audit --pinned prints the version for the workflow, and without --openclaw audits with tools/ when it is that version', async () => {
    const pinned = await clawops(['audit', '--env', 'ec2', '--pinned']);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(pinned.stdout, `openclaw=${program.version}\n`);
    const run = await clawops(['audit', '--env', 'local'], { env: processEnv });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stderr, '', 'nothing fetched');
    assert.match(run.stdout, /^clawops audit for local with OpenClaw 2026\.9\.6\n/);
    assert.match(run.stdout, /^Audit passed: no critical finding, 2 accepted warnings and no other\.$/m);
  });

  test('clawops audit says so and exits 1, before running anything', async () => {
    const root = await scratchRepo();
    try {
      const file = join(root, 'config/environments/local.yaml');
      await writeFile(file, (await readFile(file, 'utf8')).replace(/openclaw: \d+\.\d+\.\d+/, 'openclaw: 2026.10.1'));
      const run = await clawops(['audit', '--env', 'local', '--root', root, '--openclaw', OPENCLAW_ENTRY], { env: processEnv });
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^error: local pins OpenClaw 2026\.10\.1 \(config\/environments\/local\.yaml runtime\.openclaw\), but the OpenClaw at .*openclaw\.mjs is 2026\.9\.6: install openclaw@2026\.10\.1/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
