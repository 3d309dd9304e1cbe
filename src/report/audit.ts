import { auditPasses, type AuditFinding, type AuditVerdict } from '../audit/findings.js';

const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function finding(f: AuditFinding, out: string[]): void {
  out.push(`  ✗ ${f.severity} ${f.checkId}  — ${f.title}`);
  if (f.detail) out.push(indent(f.detail, '      '));
  if (f.remediation) out.push(indent(`fix: ${f.remediation}`, '      '));
}

/** The last line: passed, or what failed by checkId. */
export function auditSummaryLine(v: AuditVerdict): string {
  if (auditPasses(v)) return `Audit passed: no critical finding, ${v.accepted.length ? `${plural(v.accepted.length, 'accepted warning')} and no other` : 'no warning'}.`;
  const parts: string[] = [];
  if (!v.validate.valid) parts.push('openclaw config validate rejects the render');
  const critical = v.blocking.filter((f) => f.severity === 'critical');
  const warned = v.blocking.filter((f) => f.severity !== 'critical');
  if (critical.length) parts.push(`${plural(critical.length, 'critical finding')} (${critical.map((f) => f.checkId).join(', ')})`);
  if (warned.length) parts.push(`${plural(warned.length, 'warning')} not accepted (${warned.map((f) => f.checkId).join(', ')})`);
  if (v.stale.length) parts.push(`${plural(v.stale.length, 'stale acceptance')} (${v.stale.map((a) => a.check).join(', ')})`);
  return `Audit failed: ${parts.join('; ')}.`;
}

/** The verdict for a person (and a CI log): every finding that matters, with its checkId. */
export function renderAuditText(v: AuditVerdict): string {
  const file = `config/environments/${v.environment}.yaml`;
  const out = [`clawops audit for ${v.environment} with OpenClaw ${v.openclaw}`, ''];
  out.push(`openclaw config validate: ${v.validate.valid ? 'valid' : 'INVALID'}`);
  for (const i of v.validate.issues) out.push(`  ✗ ${i.path}: ${i.message}`);
  const critical = v.blocking.filter((f) => f.severity === 'critical').length;
  const warnings = v.blocking.length - critical + v.accepted.length;
  out.push(`openclaw security audit: ${critical} critical, ${plural(warnings, 'warning')} (${v.accepted.length} accepted), ${v.info.length} info`);
  if (v.blocking.length) {
    out.push('', 'Blocking:');
    for (const f of v.blocking) finding(f, out);
  }
  if (v.accepted.length) {
    out.push('', `Accepted warnings (${file} security.accept):`);
    for (const f of v.accepted) out.push(`  ! ${f.checkId}  — ${f.title}`, indent(`reason: ${f.reason}`, '      '));
  }
  if (v.stale.length) {
    out.push('', `Stale acceptances: the check no longer warns; remove them from ${file} security.accept:`);
    for (const a of v.stale) out.push(`  ? ${a.check}  — ${a.reason}`);
  }
  if (v.info.length) {
    out.push('', 'Info:');
    for (const f of v.info) out.push(`  · ${f.checkId}  — ${f.title}`);
  }
  out.push('', auditSummaryLine(v));
  return `${out.join('\n')}\n`;
}

export function renderAuditJson(verdicts: readonly AuditVerdict[]): string {
  return `${JSON.stringify({ format: 'clawops-audit/1', passed: verdicts.every(auditPasses), environments: verdicts.map((v) => ({ ...v, passed: auditPasses(v) })) }, null, 2)}\n`;
}
