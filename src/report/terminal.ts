import { countPlan, hasChanges, listenerText, ruleText, summaryLine, type FileAction, type Plan, type ServiceAction } from '../plan/model.js';

const FILE_SYMBOL: Record<FileAction, string> = { create: '+', update: '~', delete: '-', 'no-op': ' ' };
const SERVICE_SYMBOL: Record<ServiceAction, string> = { start: '+', restart: '~', reload: '↻', stop: '-', 'no-op': ' ' };

export interface TerminalOptions {
  /** Also list what does not change, with the reason. */
  verbose?: boolean;
}

/** The plan for a person at a terminal (and in CI logs): a legend, the changes, one summary line. */
export function renderPlanText(plan: Plan, opts: TerminalOptions = {}): string {
  const out: string[] = [];
  out.push(`clawops plan for ${plan.environment} (${plan.target}) at ${plan.revision}`);
  if (!hasChanges(plan)) {
    edge(plan, out);
    securityGroup(plan, out);
    uncompared(plan, out);
    listeners(plan, out);
    accepted(plan, out);
    lock(plan, out);
    out.push('', summaryLine(plan));
    return `${out.join('\n')}\n`;
  }
  const counts = countPlan(plan);
  // A security group's rules have their own words.
  const allows = plan.securityGroup?.rules.filter((r) => r.action === 'authorize').length ?? 0;
  const revokes = plan.securityGroup?.rules.filter((r) => r.action === 'revoke').length ?? 0;
  const describes = plan.securityGroup?.rules.filter((r) => r.action === 'describe').length ?? 0;
  const legend = [
    counts.add > allows ? '+ create' : '',
    counts.change > describes ? '~ update' : '',
    counts.destroy > revokes ? '- destroy' : '',
    plan.services.some((s) => s.action === 'reload') ? '↻ hot reload' : '',
    plan.securityGroup?.rules.some((r) => r.action === 'authorize') ? '+ allow' : '',
    plan.securityGroup?.rules.some((r) => r.action === 'revoke') ? '- revoke' : '',
    describes ? '~ describe' : '',
  ].filter(Boolean);
  out.push(`Symbols: ${legend.join(', ')}`);

  if (plan.semantic.length) {
    out.push('', 'What changes for the deployment:');
    for (const s of plan.semantic) out.push(`  • ${s.text}`);
  }
  const runtime = plan.runtime.filter((r) => r.action !== 'no-op' || opts.verbose);
  if (runtime.length) {
    out.push('', 'Runtime:');
    for (const r of runtime) {
      out.push(r.action === 'no-op' ? `    ${r.component} ${r.to} (installed)` : `  ${r.from ? '~' : '+'} ${r.component} ${r.from ?? '(none)'} → ${r.to}`);
    }
  }
  const state = stateNote(plan);
  if (state) out.push('', state);
  const files = plan.files.filter((f) => f.action !== 'no-op' || opts.verbose);
  if (files.length) {
    out.push('', 'Files:');
    for (const f of files) {
      const note = f.sensitive ? ' (sensitive)' : '';
      out.push(`  ${FILE_SYMBOL[f.action]} ${f.path}${note}  — ${f.reason}`);
    }
  }
  if (plan.overrides?.length) {
    out.push('', 'Read by systemd, not written by clawops:');
    for (const o of plan.overrides) out.push(`  - ${o.path}  — ${o.kind} of ${o.unit}`);
    out.push(`  ${OVERRIDES_NOTE}`);
  }
  const services = plan.services.filter((s) => s.action !== 'no-op' || s.enable || opts.verbose);
  if (services.length || plan.daemonReload) {
    out.push('', 'Services:');
    if (plan.daemonReload) out.push('  ~ systemctl daemon-reload  — unit files change');
    for (const s of services) {
      const enable = s.enable && s.action !== 'stop' ? ', enable at boot' : '';
      out.push(`  ${SERVICE_SYMBOL[s.action]} ${s.action === 'no-op' ? 'keep' : s.action} ${s.name}  — ${s.reason}${enable}`);
    }
  }
  edge(plan, out);
  securityGroup(plan, out, opts.verbose);
  uncompared(plan, out);
  listeners(plan, out);
  accepted(plan, out);
  lock(plan, out);
  out.push('', summaryLine(plan));
  return `${out.join('\n')}\n`;
}

/** The security group's rules that change, and the rules someone else set, which clawops leaves alone. */
function securityGroup(plan: Plan, out: string[], verbose = false): void {
  const g = plan.securityGroup;
  if (!g) return;
  const rules = g.rules.filter((r) => r.action !== 'no-op' || verbose);
  if (!rules.length && !g.unmanaged.length && g.action !== 'unknown') return;
  out.push('', `Security group ${g.id} (${g.region}):`);
  if (g.action === 'unknown') out.push(`  ? not compared: ${g.reasons.join('; ')}`);
  for (const r of rules) {
    const word = { authorize: '+ allow', revoke: '- revoke', describe: '~ describe', 'no-op': '  keep' }[r.action];
    const note = r.action === 'authorize' ? `: "${r.description}"` : r.action === 'describe' ? `: "${r.was}" → "${r.description}"` : '';
    out.push(`  ${word} ${ruleText(r)}  — ${r.reason}${note}`);
  }
  for (const r of g.unmanaged) out.push(`  ! ${ruleText(r)}  — ${UNMANAGED_NOTE}${r.description ? ` ("${r.description}")` : ''}`);
}

/** What clawops does with a rule it did not write. */
export const UNMANAGED_NOTE = 'not written by clawops: reported, never revoked';

function edge(plan: Plan, out: string[]): void {
  const e = plan.edge;
  if (!e || e.action === 'no-op') return;
  out.push('', 'Edge function:');
  const what = { deploy: '~ deploy', settings: '~ update settings of', unknown: '? not compared:', 'no-op': '' }[e.action];
  out.push(`  ${what} ${e.name} (Supabase project ${e.projectRef})  — ${e.reasons.join('; ')}`);
}

/** What happens to OpenClaw's own state (sessions, devices, databases) across a version change. */
export function stateNote(plan: Plan): string | null {
  const s = plan.openclawState;
  if (!s) return null;
  return s.action === 'copy'
    ? `OpenClaw's state: copied (the gateway stopped) before OpenClaw ${s.to} first runs, since it may migrate it; a rollback to ${s.from} restores this copy and keeps what was written since aside.`
    : `OpenClaw's state: restored from the copy release ${s.release} kept before OpenClaw ${s.to} first ran, for OpenClaw ${s.from}; the state there now is kept aside, not deleted.`;
}

/** What apply does with files systemd reads that clawops did not write. */
export const OVERRIDES_NOTE = 'An override may be deliberate: apply stops before changing anything, unless --prune is given to remove these.';

/** A lock on the host: what an apply made now would meet. */
export function lockNote(plan: Plan): string | null {
  const l = plan.lock;
  if (!l) return null;
  if (l.rebooted) return `The host is locked by ${l.holder} since ${l.since}, whose apply was cut short by a restart of the host (a power cut or a reboot): the next apply clears the lock by itself.`;
  return l.alive
    ? `The host is locked by ${l.holder} since ${l.since}, whose apply is still running: an apply now waits for it.`
    : `The host is locked by ${l.holder} since ${l.since}, which is no longer running: an apply needs --break-lock.`;
}

function lock(plan: Plan, out: string[]): void {
  const note = lockNote(plan);
  if (note) out.push('', note);
}

/** The audit warnings the environment accepts: in every plan, so none is accepted silently. */
export function acceptedHeading(plan: Plan): string {
  return `Accepted audit warnings (config/environments/${plan.environment}.yaml security.accept; clawops audit checks they still fire):`;
}

function accepted(plan: Plan, out: string[]): void {
  if (!plan.acceptedFindings?.length) return;
  out.push('', acceptedHeading(plan));
  for (const a of plan.acceptedFindings) out.push(`  ! ${a.check}  — ${a.reason}`);
}

function listeners(plan: Plan, out: string[]): void {
  if (!plan.listeners?.length) return;
  out.push('', 'Listening where the configuration does not say:');
  for (const l of plan.listeners) out.push(`  ! ${l.unit}  — ${listenerText(l)}`);
}

function uncompared(plan: Plan, out: string[]): void {
  if (!plan.uncompared.length) return;
  out.push('', 'Compared at apply (their secret values are not available to this plan):');
  for (const p of plan.uncompared) out.push(`  ? ${p} (sensitive) — compared at apply`);
}
