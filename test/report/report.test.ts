import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { HostFacts } from '../../src/plan/facts.js';
import { diff } from '../../src/plan/diff.js';
import { renderPlanJson } from '../../src/report/json.js';
import { renderPlanText } from '../../src/report/terminal.js';
import { renderDriftMarkdown, renderDriftText } from '../../src/report/drift.js';
import type { DesiredState } from '../../src/render/desired.js';

const { cases } = JSON.parse(await readFile(new URL('../plan/fixtures/diff-cases.json', import.meta.url), 'utf8')) as {
  cases: { name: string; desired: DesiredState; facts: HostFacts; secrets: Record<string, string> | null }[];
};
const SECRET = 'canary-secret-7f3a9c';
const plans = cases.map((c) =>
  diff({
    desired: c.desired,
    facts: c.facts,
    summary: { chain: ['a/x', 'b/y'], providers: {}, agents: {} },
    // The rotated-secret case gets a canary as its new value; the others keep their own.
    ...(c.secrets ? { secrets: (n: string) => (c.name.startsWith('a rotated secret') ? SECRET : c.secrets![n]) } : {}),
    target: 'ubuntu@test',
    revision: 'abc123',
  }),
);

describe('plan reports', () => {
  test('terminal: legend, symbols, reasons and one summary line', () => {
    const text = renderPlanText(plans[5]!);
    assert.equal(
      text,
      [
        'clawops plan for t (ubuntu@test) at abc123',
        'Symbols: ~ update, - destroy, ↻ hot reload',
        '',
        'Files:',
        '  ~ /srv/.openclaw/openclaw.json  — mode 644 → 600',
        '  - /srv/proxies/old/old-proxy.mjs  — no longer in the configuration',
        '',
        'Services:',
        '  + start gemini-proxy.service  — not running (failed)',
        '  ↻ reload openclaw-gateway.service  — openclaw.json changed: picked up by hot reload, no restart',
        '',
        'Compared at apply (their secret values are not available to this plan):',
        '  ? /srv/.openclaw/gateway.env (sensitive) — compared at apply',
        '',
        'Plan: 0 to add, 1 to change, 1 to destroy; restarts: gemini-proxy; reloads: openclaw',
        '',
      ].join('\n'),
    );
  });

  test('a sensitive file shows as (sensitive); no output carries its value or any digest of it', () => {
    const rotated = plans[4]!;
    const outputs = [renderPlanText(rotated), renderPlanJson(rotated), renderDriftText(rotated), renderDriftMarkdown(rotated)];
    assert.match(outputs[0]!, /~ \/srv\/\.openclaw\/gateway\.env \(sensitive\)/);
    for (const out of outputs) {
      assert.ok(!out.includes(SECRET), 'no secret value');
      assert.ok(!/[0-9a-f]{64}/.test(out.replace(rotated.factsDigest, '')), 'no bare digest besides the keyed facts digest');
    }
    const json = JSON.parse(outputs[1]!);
    assert.equal(json.changes, true);
    assert.deepEqual(json.counts, { add: 0, change: 1, destroy: 0, restarts: ['openclaw-gateway'], reloads: [], redeploys: [] });
  });

  test('drift tells an edit on the host from a merge not yet applied', () => {
    assert.match(renderDriftText(plans[3]!), /gemini-proxy\.mjs: content differs — changed on the host by hand/);
    assert.match(renderDriftText(plans[2]!), /openclaw\.json: content differs — merged but not yet applied/);
    assert.equal(renderDriftText(plans[0]!), 'No drift: t (ubuntu@test) matches the configuration at abc123.\n');
  });

  test('drift tells an edge function changed outside clawops from one behind the repository', () => {
    const edge = {
      name: 'openclaw-bridge',
      projectRef: 'qsyncscriptbridgeprd',
      action: 'deploy' as const,
      reasons: ['changed outside clawops: version 7 → 9, verify_jwt false → true', 'secret OPENCLAW_BRIDGE_CORS_ORIGINS changed'],
      outside: ['version 7 → 9', 'verify_jwt false → true'],
    };
    const text = renderDriftText({ ...plans[0]!, edge });
    assert.match(text, /^ {2}! edge function openclaw-bridge: version 7 → 9, verify_jwt false → true — changed outside clawops$/m);
    assert.match(text, /^ {2}! edge function openclaw-bridge: secret OPENCLAW_BRIDGE_CORS_ORIGINS changed — merged but not yet applied$/m);
    assert.match(renderPlanText({ ...plans[0]!, edge }), /~ deploy openclaw-bridge \(Supabase project qsyncscriptbridgeprd\) {2}— changed outside clawops: version 7 → 9, verify_jwt false → true; secret/);
    assert.equal(renderDriftText({ ...plans[0]!, edge: { ...edge, action: 'no-op', reasons: ['unchanged'], outside: [] } }).startsWith('No drift'), true);
  });
});

describe('accepted audit warnings', () => {
  const accepted = [{ check: 'models.weak_tier', reason: 'step 8 of the 11-step chain, without host or web tools' }];

  test('come from the environment into every plan, and into its JSON', async () => {
    const { render } = await import('../../src/render/render.js');
    const { FIXED_CONTEXT, repoConfig } = await import('../support/repo.js');
    const desired = render(await repoConfig(), 'ec2', FIXED_CONTEXT);
    assert.deepEqual(desired.acceptedFindings?.map((a) => a.check), ['models.weak_tier']);
    const plan = diff({ desired: { ...cases[0]!.desired, acceptedFindings: accepted }, facts: cases[0]!.facts, summary: { chain: [], providers: {}, agents: {} }, target: 't', revision: 'r' });
    assert.deepEqual(plan.acceptedFindings, accepted);
    assert.deepEqual(JSON.parse(renderPlanJson(plan)).acceptedFindings, accepted);
  });

  test('the terminal lists them, with or without changes', () => {
    for (const base of [plans[5]!, plans.find((p) => p.files.every((f) => f.action === 'no-op') && p.services.every((s) => s.action === 'no-op'))!]) {
      const text = renderPlanText({ ...base, acceptedFindings: accepted });
      assert.match(
        text,
        /\nAccepted audit warnings \(config\/environments\/[a-z0-9-]+\.yaml security\.accept; clawops audit checks they still fire\):\n {2}! models\.weak_tier {2}— step 8 of the 11-step chain, without host or web tools\n/,
      );
      assert.doesNotMatch(renderPlanText(base), /Accepted audit warnings/);
    }
  });
});
