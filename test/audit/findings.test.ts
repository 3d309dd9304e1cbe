import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditOutputError, auditPasses, judgeFindings, parseAuditJson, parseValidateJson, type AuditVerdict } from '../../src/audit/findings.js';
import { auditSummaryLine, renderAuditJson, renderAuditText } from '../../src/report/audit.js';

// The shape `openclaw security audit --json` of OpenClaw 2026.9.6 prints (abridged).
const AUDIT = JSON.stringify({
  ts: 1,
  summary: { critical: 1, warn: 2, info: 1 },
  findings: [
    { checkId: 'summary.attack_surface', severity: 'info', title: 'Attack surface summary', detail: 'tools.elevated: disabled' },
    { checkId: 'gateway.control_ui.allowed_origins_required', severity: 'critical', title: 'Non-loopback Control UI missing explicit allowed origins', detail: 'Control UI is enabled on a non-loopback bind', remediation: 'Set gateway.controlUi.allowedOrigins' },
    { checkId: 'gateway.auth_no_rate_limit', severity: 'warn', title: 'No auth rate limiting configured' },
    { checkId: 'models.weak_tier', severity: 'warn', title: 'Some configured models are below recommended tiers' },
  ],
  secretDiagnostics: [],
});

const verdict = (over: Partial<AuditVerdict>): AuditVerdict => ({
  environment: 'ec2',
  openclaw: '2026.9.6',
  validate: { valid: true, issues: [] },
  blocking: [],
  accepted: [],
  stale: [],
  info: [],
  ...over,
});

describe('judging the findings', () => {
  const findings = parseAuditJson(AUDIT);

  test('a critical finding blocks even when accepted; an unaccepted warning blocks; an accepted one passes with its reason', () => {
    const v = judgeFindings(findings, [
      { check: 'gateway.control_ui.allowed_origins_required', reason: 'we like it' },
      { check: 'models.weak_tier', reason: 'step 8 of 11' },
    ]);
    assert.deepEqual(v.blocking.map((f) => f.checkId), ['gateway.control_ui.allowed_origins_required', 'gateway.auth_no_rate_limit']);
    assert.deepEqual(v.accepted.map((f) => [f.checkId, f.reason]), [['models.weak_tier', 'step 8 of 11']]);
    assert.deepEqual(v.info.map((f) => f.checkId), ['summary.attack_surface']);
    // Accepting a critical check is not an acceptance of a warning that fired: it is stale.
    assert.deepEqual(v.stale, [{ check: 'gateway.control_ui.allowed_origins_required', reason: 'we like it' }]);
  });

  test('an acceptance for a check that does not fire is stale, and the verdict fails', () => {
    const v = judgeFindings(findings.filter((f) => f.severity !== 'critical'), [
      { check: 'gateway.auth_no_rate_limit', reason: 'r' },
      { check: 'models.weak_tier', reason: 'r' },
      { check: 'gateway.trusted_proxies_missing', reason: 'no proxy' },
    ]);
    assert.deepEqual(v.blocking, []);
    assert.deepEqual(v.stale.map((a) => a.check), ['gateway.trusted_proxies_missing']);
    const full = verdict(v);
    assert.equal(auditPasses(full), false);
    assert.equal(auditSummaryLine(full), 'Audit failed: 1 stale acceptance (gateway.trusted_proxies_missing).');
    assert.match(renderAuditText(full), /^Stale acceptances: the check no longer warns; remove them from config\/environments\/ec2\.yaml security\.accept:\n {2}\? gateway\.trusted_proxies_missing {2}— no proxy$/m);
  });

  test('what OpenClaw prints is checked, not trusted', () => {
    assert.throws(() => parseAuditJson('Gateway not reachable'), (e: unknown) => e instanceof AuditOutputError && /printed no JSON/.test(e.message));
    assert.throws(() => parseAuditJson('{"findings":[{"severity":"warn"}]}'), /a finding without checkId and severity \(findings\[0\]\)/);
    assert.throws(() => parseAuditJson('{"summary":{}}'), /no findings list/);
    assert.deepEqual(parseValidateJson('{"valid":false,"issues":[{"path":"gateway.bind","message":"Invalid input"}]}'), {
      valid: false,
      issues: [{ path: 'gateway.bind', message: 'Invalid input' }],
    });
  });
});

describe('the audit report', () => {
  const findings = parseAuditJson(AUDIT);

  test('a blocking finding is named by checkId, with what OpenClaw says and how to fix it', () => {
    const v = verdict(judgeFindings(findings, [{ check: 'models.weak_tier', reason: 'step 8 of 11' }]));
    const text = renderAuditText(v);
    assert.match(text, /^openclaw security audit: 1 critical, 2 warnings \(1 accepted\), 1 info$/m);
    assert.match(text, /^ {2}✗ critical gateway\.control_ui\.allowed_origins_required {2}— Non-loopback Control UI missing explicit allowed origins\n {6}Control UI is enabled on a non-loopback bind\n {6}fix: Set gateway\.controlUi\.allowedOrigins$/m);
    assert.match(text, /^Accepted warnings \(config\/environments\/ec2\.yaml security\.accept\):\n {2}! models\.weak_tier {2}— Some configured models are below recommended tiers\n {6}reason: step 8 of 11$/m);
    assert.equal(
      auditSummaryLine(v),
      'Audit failed: 1 critical finding (gateway.control_ui.allowed_origins_required); 1 warning not accepted (gateway.auth_no_rate_limit).',
    );
    const json = JSON.parse(renderAuditJson([v]));
    assert.equal(json.passed, false);
    assert.deepEqual(json.environments[0].accepted.map((f: { reason: string }) => f.reason), ['step 8 of 11']);
  });

  test('a render OpenClaw rejects fails, whatever the audit says', () => {
    const v = verdict({ validate: { valid: false, issues: [{ path: 'gateway.bind', message: 'Invalid input' }] } });
    assert.equal(auditPasses(v), false);
    assert.match(renderAuditText(v), /^openclaw config validate: INVALID\n {2}✗ gateway\.bind: Invalid input$/m);
    assert.equal(auditSummaryLine(v), 'Audit failed: openclaw config validate rejects the render.');
  });

  test('a pass says how many warnings it accepted', () => {
    assert.equal(auditSummaryLine(verdict({ accepted: [{ ...findings[3]!, reason: 'r' }] })), 'Audit passed: no critical finding, 1 accepted warning and no other.');
    assert.equal(auditSummaryLine(verdict({})), 'Audit passed: no critical finding, no warning.');
  });
});
