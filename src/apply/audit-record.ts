import type { DesiredState } from '../render/desired.js';
import type { ReleaseRecord } from '../plan/facts.js';
import type { Transport } from '../transport/transport.js';
import { must } from './host.js';
import { releasePaths } from './layout.js';

/**
 * Writes what the host's deep audit found after an apply into the live release's record: each
 * finding's checkId and severity, nothing it said of the config. Drift then reports only findings
 * that appear later. The record is rewritten whole, by rename.
 */
export async function recordAuditFindings(t: Transport, desired: DesiredState, releaseId: string, findings: readonly { checkId: string; severity: string }[]): Promise<void> {
  const p = releasePaths(desired.host, releaseId);
  const record = JSON.parse(await must(t, 'record audit', ['cat', p.record])) as ReleaseRecord;
  record.securityFindings = [...new Map(findings.map((f) => [`${f.severity} ${f.checkId}`, { checkId: f.checkId, severity: f.severity }])).values()].sort((a, b) =>
    `${a.severity} ${a.checkId}`.localeCompare(`${b.severity} ${b.checkId}`),
  );
  await must(t, 'record audit', ['bash', '-c', 'cat > "$1.new" && mv -f "$1.new" "$1"', 'record', p.record], `${JSON.stringify(record, null, 2)}\n`);
}
