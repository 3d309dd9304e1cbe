import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { IngressPermission } from '../../src/aws/security-group.js';
import type { Plan, SecurityGroupRule, SecurityGroupRuleChange } from '../../src/plan/model.js';
import { diffSecurityGroup } from '../../src/plan/security-group.js';
import { renderDriftText } from '../../src/report/drift.js';
import { renderPlanJson } from '../../src/report/json.js';
import { renderApplyOutcomeMarkdown } from '../../src/report/markdown.js';
import { renderPlanText } from '../../src/report/terminal.js';
import type { SecurityGroup } from '../../src/schema/security-group.js';

const { cases } = JSON.parse(await readFile(new URL('./fixtures/security-group-cases.json', import.meta.url), 'utf8')) as {
  cases: { name: string; desired: SecurityGroup; described: IngressPermission[]; rules: SecurityGroupRuleChange[]; unmanaged: SecurityGroupRule[] }[];
};

describe('the security group diff: {declared, described} → changes', () => {
  for (const c of cases) {
    test(c.name, () => {
      const change = diffSecurityGroup(c.desired, c.described);
      assert.deepEqual(change.rules, c.rules);
      assert.deepEqual(change.unmanaged, c.unmanaged);
    });
  }
});

describe('the security group in every report', () => {
  const empty: Plan = { environment: 'ec2', target: 'ubuntu@ec2-host', revision: 'abc123', factsDigest: 'x', files: [], services: [], runtime: [], daemonReload: false, semantic: [], uncompared: [] };
  const plan: Plan = { ...empty, securityGroup: diffSecurityGroup(cases[0]!.desired, cases[1]!.described) };

  test('terminal: allow, revoke and the rule set by hand, counted in the summary', () => {
    const text = renderPlanText(plan);
    assert.equal(
      text,
      [
        'clawops plan for ec2 (ubuntu@ec2-host) at abc123',
        'Symbols: + allow, - revoke',
        '',
        'Security group sg-0123456789abcdef0 (us-east-2):',
        '  + allow tcp 443 from 0.0.0.0/0  — not in the group: "clawops: TLS hop"',
        '  - revoke tcp 8000-8010 from ::/0  — written by clawops, no longer in the configuration',
        '  ! tcp 22 from 203.0.113.7/32  — not written by clawops: reported, never revoked ("SSH from the office")',
        '  ! -1 all from sg-0fedcba9876543210  — not written by clawops: reported, never revoked',
        '',
        'Plan: 1 to add, 0 to change, 1 to destroy',
        '',
      ].join('\n'),
    );
  });

  test('markdown and JSON carry the same changes', () => {
    const md = renderApplyOutcomeMarkdown('applied', plan, { environment: 'ec2', revision: 'abc123' });
    assert.match(md, /^- Security group `sg-0123456789abcdef0` \(us-east-2\): `\+` allow `tcp 443 from 0\.0\.0\.0\/0`: not in the group$/m);
    assert.match(md, /^- Security group `sg-0123456789abcdef0` \(us-east-2\): `-` revoke `tcp 8000-8010 from ::\/0`: written by clawops, no longer in the configuration$/m);
    assert.match(md, /^- Security group `sg-0123456789abcdef0` \(us-east-2\): `tcp 22 from 203\.0\.113\.7\/32` not written by clawops: reported, never revoked \(SSH from the office\)$/m);
    const json = JSON.parse(renderPlanJson(plan)) as { changes: boolean; counts: { add: number; destroy: number } };
    assert.equal(json.changes, true);
    assert.deepEqual([json.counts.add, json.counts.destroy], [1, 1]);
  });

  test('a group that matches, with no rule set by hand, says nothing but the summary', () => {
    const matching: Plan = { ...empty, securityGroup: diffSecurityGroup(cases[0]!.desired, [{ protocol: 'tcp', from: 443, to: 443, source: '0.0.0.0/0', description: 'clawops: TLS hop' }]) };
    assert.equal(renderPlanText(matching), 'clawops plan for ec2 (ubuntu@ec2-host) at abc123\n\nNo changes. The host and its security group match the configuration.\n');
    assert.match(renderDriftText(matching), /^No drift/);
  });
});
