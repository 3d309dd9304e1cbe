import { listenerText, ruleText, type Plan } from '../plan/model.js';

export interface DriftItem {
  path: string;
  what: string;
  cause:
    | 'changed on the host by hand'
    | 'merged but not yet applied'
    | 'service not running'
    | 'runtime differs'
    | 'changed outside clawops'
    | 'listens where it must not'
    | 'removed by hand, or not yet applied'
    | 'certificate not renewed'
    | 'new security finding since the release'
    | 'security audit did not run';
  sensitive: boolean;
}

/** Drift is a plan read the other way round: what differs, and whether the host or the repo moved. */
export function driftItems(plan: Plan): DriftItem[] {
  const items: DriftItem[] = [];
  for (const f of plan.files) {
    if (f.action === 'no-op') continue;
    items.push({
      path: f.path,
      what: f.action === 'create' ? (f.cause === 'changed-on-host' ? 'deleted on the host' : 'missing on the host') : f.action === 'delete' ? 'left over from an earlier release' : f.reason,
      cause: f.cause === 'changed-on-host' ? 'changed on the host by hand' : 'merged but not yet applied',
      sensitive: f.sensitive,
    });
  }
  for (const s of plan.services) {
    if (s.action === 'start') items.push({ path: s.name, what: s.reason, cause: 'service not running', sensitive: false });
    // Running, but no longer enabled: it would not come back after a reboot. apply enables every
    // unit it manages, so on a host with a release this was done there.
    else if (s.enable) items.push({ path: s.name, what: 'not enabled at boot: it would not start after a reboot', cause: 'changed on the host by hand', sensitive: false });
  }
  for (const o of plan.overrides ?? []) {
    items.push({ path: o.path, what: `${o.kind} of ${o.unit} that clawops did not write`, cause: 'changed on the host by hand', sensitive: false });
  }
  for (const l of plan.listeners ?? []) items.push({ path: l.unit, what: listenerText(l), cause: 'listens where it must not', sensitive: false });
  for (const r of plan.runtime) {
    if (r.action === 'install') items.push({ path: r.component, what: `${r.from ?? 'absent'}, configured ${r.to}`, cause: 'runtime differs', sensitive: false });
  }
  // The edge function: redeployed or reconfigured elsewhere, or behind the repository.
  const e = plan.edge;
  if (e && (e.action === 'deploy' || e.action === 'settings')) {
    const path = `edge function ${e.name}`;
    if (e.outside?.length) items.push({ path, what: e.outside.join(', '), cause: 'changed outside clawops', sensitive: false });
    const rest = e.reasons.filter((r) => !r.startsWith('changed outside clawops: '));
    if (rest.length) items.push({ path, what: rest.join('; '), cause: 'merged but not yet applied', sensitive: false });
  }
  // The security group: a declared rule missing, a rule of clawops's no longer declared, a rule
  // someone else added (which apply leaves alone).
  const g = plan.securityGroup;
  if (g) {
    const path = `security group ${g.id}`;
    for (const r of g.rules) {
      if (r.action === 'authorize') items.push({ path, what: `allow ${ruleText(r)} is missing`, cause: 'removed by hand, or not yet applied', sensitive: false });
      if (r.action === 'revoke') items.push({ path, what: `${ruleText(r)} is no longer declared`, cause: 'merged but not yet applied', sensitive: false });
      if (r.action === 'describe') items.push({ path, what: `${ruleText(r)} is described "${r.was}", configured "${r.description}"`, cause: 'merged but not yet applied', sensitive: false });
    }
    for (const r of g.unmanaged) {
      items.push({ path, what: `${ruleText(r)}${r.description ? ` ("${r.description}")` : ''} was added outside clawops; apply leaves it`, cause: 'changed outside clawops', sensitive: false });
    }
  }
  // The host's own deep audit: what it finds now that the release's did not (checkId and title only).
  const audit = plan.securityAudit;
  if (audit && 'error' in audit) items.push({ path: 'security audit --deep', what: audit.error, cause: 'security audit did not run', sensitive: false });
  for (const f of audit && 'newFindings' in audit ? audit.newFindings : []) {
    items.push({ path: 'security audit --deep', what: `${f.severity} ${f.checkId} (${f.title})`, cause: 'new security finding since the release', sensitive: false });
  }
  if (plan.certificate && !plan.certificate.ok) {
    items.push({ path: `certificate of ${plan.certificate.url}`, what: plan.certificate.detail, cause: 'certificate not renewed', sensitive: false });
  }
  return items;
}

export function renderDriftText(plan: Plan): string {
  const items = driftItems(plan);
  if (!items.length) return `No drift: ${plan.environment} (${plan.target}) matches the configuration at ${plan.revision}.\n`;
  const lines = [`Drift on ${plan.environment} (${plan.target}) against ${plan.revision}:`];
  for (const i of items) lines.push(`  ! ${i.path}${i.sensitive ? ' (sensitive)' : ''}: ${i.what} — ${i.cause}`);
  lines.push(`${items.length} item${items.length === 1 ? '' : 's'} drifted. Drift changes nothing; \`clawops apply --env ${plan.environment}\` repairs it.`);
  return `${lines.join('\n')}\n`;
}

export function renderDriftMarkdown(plan: Plan): string {
  const items = driftItems(plan);
  if (!items.length) return `**No drift** on \`${plan.environment}\`: the host matches \`${plan.revision}\`.\n`;
  return [
    `**Drift on \`${plan.environment}\`** against \`${plan.revision}\`: ${items.length} item${items.length === 1 ? '' : 's'}.`,
    '',
    driftTable(items),
    '',
    `Drift reports only. \`clawops apply --env ${plan.environment}\` (or the next merge) repairs it.`,
    '',
  ].join('\n');
}

/** The drift items as a markdown table: what, how it differs, why. */
export function driftTable(items: readonly DriftItem[]): string {
  const rows = items.map((i) => `| \`${i.path}\`${i.sensitive ? ' (sensitive)' : ''} | ${i.what} | ${i.cause} |`);
  return ['| what | how it differs | why |', '|---|---|---|', ...rows].join('\n');
}
