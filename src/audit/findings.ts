/**
 * What `openclaw security audit --json` and `openclaw config validate --json` say, and the verdict
 * clawops draws from them. Pure: the adapter in ./openclaw.ts runs OpenClaw and hands the text here.
 *
 * The rule: no critical finding passes; a warning passes only when the environment accepts its
 * checkId with a reason (security.accept); an acceptance for a check that no longer fires is stale
 * and fails too, so the list never outlives its reasons. Info findings pass.
 */
import type { Environment } from '../schema/environment.js';

export type Severity = 'critical' | 'warn' | 'info';

/** One finding, as `openclaw security audit --json` prints it. */
export interface AuditFinding {
  checkId: string;
  severity: Severity;
  title: string;
  detail?: string;
  remediation?: string;
}

export interface ValidateVerdict {
  valid: boolean;
  issues: { path: string; message: string }[];
}

/**
 * The deep audit's finding that its live probe of the gateway failed (docs/gateway/security/audit-checks.md).
 * Its probe connects with the token alone, which OpenClaw grants no read scope unless the host's CLI
 * is a paired device: whether the gateway answers is the smoke's health check's to say, not this.
 */
export const PROBE_FAILED = 'gateway.probe_failed';

export type Acceptance = NonNullable<Environment['security']>['accept'][number];

export interface AuditVerdict {
  environment: string;
  /** The OpenClaw version that judged: the one the environment pins. */
  openclaw: string;
  validate: ValidateVerdict;
  /** Critical findings, and warnings the environment does not accept. */
  blocking: AuditFinding[];
  /** Warnings the environment accepts, each with its reason. */
  accepted: (AuditFinding & { reason: string })[];
  /** Acceptances for checks that did not fire as a warning. */
  stale: Acceptance[];
  /** Info findings: reported, never blocking. */
  info: AuditFinding[];
}

/** OpenClaw printed something that is not the JSON it documents. */
export class AuditOutputError extends Error {
  constructor(command: string, why: string) {
    super(`openclaw ${command} --json printed ${why}`);
    this.name = 'AuditOutputError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SEVERITIES: readonly string[] = ['critical', 'warn', 'info'];

function parseJson(command: string, text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AuditOutputError(command, `no JSON (${JSON.stringify(text.trim().slice(0, 80))})`);
  }
  if (!isRecord(data)) throw new AuditOutputError(command, 'JSON that is not an object');
  return data;
}

/** The findings of `openclaw security audit --json`: {summary, findings: [{checkId, severity, title, detail, remediation}]}. */
export function parseAuditJson(text: string): AuditFinding[] {
  const data = parseJson('security audit', text);
  if (!Array.isArray(data.findings)) throw new AuditOutputError('security audit', 'no findings list');
  return data.findings.map((f, i) => {
    if (!isRecord(f) || typeof f.checkId !== 'string' || typeof f.severity !== 'string' || !SEVERITIES.includes(f.severity)) {
      throw new AuditOutputError('security audit', `a finding without checkId and severity (findings[${i}])`);
    }
    return {
      checkId: f.checkId,
      severity: f.severity as Severity,
      title: typeof f.title === 'string' ? f.title : f.checkId,
      ...(typeof f.detail === 'string' ? { detail: f.detail } : {}),
      ...(typeof f.remediation === 'string' ? { remediation: f.remediation } : {}),
    };
  });
}

/** The verdict of `openclaw config validate --json`: {valid, issues: [{path, message}]}. */
export function parseValidateJson(text: string): ValidateVerdict {
  const data = parseJson('config validate', text);
  if (typeof data.valid !== 'boolean') throw new AuditOutputError('config validate', 'no "valid"');
  const issues = Array.isArray(data.issues) ? data.issues.filter(isRecord) : [];
  return { valid: data.valid, issues: issues.map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') })) };
}

/** Sorts the findings against what the environment accepts. */
export function judgeFindings(
  findings: readonly AuditFinding[],
  accept: readonly Acceptance[],
): Pick<AuditVerdict, 'blocking' | 'accepted' | 'stale' | 'info'> {
  const reasons = new Map(accept.map((a) => [a.check, a.reason]));
  const blocking: AuditFinding[] = [];
  const accepted: AuditVerdict['accepted'] = [];
  const info: AuditFinding[] = [];
  for (const f of findings) {
    const reason = reasons.get(f.checkId);
    if (f.severity === 'info') info.push(f);
    else if (f.severity === 'warn' && reason !== undefined) accepted.push({ ...f, reason });
    else blocking.push(f);
  }
  const warned = new Set(findings.filter((f) => f.severity === 'warn').map((f) => f.checkId));
  return { blocking, accepted, stale: accept.filter((a) => !warned.has(a.check)), info };
}

export function auditPasses(v: AuditVerdict): boolean {
  return v.validate.valid && v.blocking.length === 0 && v.stale.length === 0;
}
