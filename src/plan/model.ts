import type { AcceptedFinding, FileRole } from '../render/desired.js';
import type { SemanticChange } from './summary.js';

export type FileAction = 'create' | 'update' | 'delete' | 'no-op';

export interface FileChange {
  path: string;
  /** folder: a folder kept at its mode and owner (DesiredState.folders), not a file. */
  role: FileRole | 'previous-release' | 'folder';
  action: FileAction;
  /** Why, in words: "absent on the host", "content differs", "mode 644 → 600", "unchanged". */
  reason: string;
  sensitive: boolean;
  /** For drift: whether the host moved away from the last release, or the repo moved past it. */
  cause?: 'changed-on-host' | 'not-yet-applied';
}

export type ServiceAction = 'start' | 'restart' | 'reload' | 'stop' | 'no-op';

export interface ServiceChange {
  name: string;
  action: ServiceAction;
  reason: string;
  enable: boolean;
}

export interface RuntimeChange {
  /** caddy: Debian's package, installed with apt (`to` names the archive, not a version). */
  component: 'node' | 'openclaw' | 'caddy';
  from: string | null;
  to: string;
  action: 'install' | 'no-op';
}

/** The Supabase edge function that fronts this environment's gateway, when there is one. */
export interface EdgeChange {
  name: string;
  projectRef: string;
  /** deploy: new source (and settings); settings: only its secrets change; unknown: not compared. */
  action: 'deploy' | 'settings' | 'no-op' | 'unknown';
  /** Why, in words and names only: never a value or a digest. */
  reasons: string[];
  /**
   * What changed since clawops last deployed it, made elsewhere (the dashboard, the Supabase CLI):
   * "version 7 → 9", "verify_jwt false → true". apply deploys it again as the repository says.
   */
  outside?: string[];
}

/** One inbound rule of the security group, as a person reads it: "tcp 443 from 0.0.0.0/0". */
export interface SecurityGroupRule {
  protocol: string;
  /** "443", or "8000-8010". */
  ports: string;
  /** A CIDR block (or the group or prefix list a rule set by hand names). */
  source: string;
  /** As EC2 holds it ("clawops: …" for a rule clawops manages). */
  description: string;
}

/** "tcp 443 from 0.0.0.0/0" */
export const ruleText = (r: SecurityGroupRule): string => `${r.protocol} ${r.ports} from ${r.source}`;

export interface SecurityGroupRuleChange extends SecurityGroupRule {
  /**
   * authorize: declared and missing; revoke: written by clawops and no longer declared; describe:
   * written by clawops, its description changed in the configuration (updated in place).
   */
  action: 'authorize' | 'revoke' | 'describe' | 'no-op';
  /** For describe: the description EC2 holds now. */
  was?: string;
  reason: string;
}

/** The environment's EC2 security group, when it declares one. */
export interface SecurityGroupChange {
  id: string;
  region: string;
  /** unknown: not compared (no AWS credentials here); reasons say why. */
  action: 'compared' | 'unknown';
  reasons: string[];
  rules: SecurityGroupRuleChange[];
  /** Rules without the "clawops: " mark that the configuration does not declare: reported, never revoked. */
  unmanaged: SecurityGroupRule[];
}

/** A plan: the model every output (terminal, PR comment, drift issue, JSON) is rendered from. */
export interface Plan {
  environment: string;
  target: string;
  revision: string;
  /** Keyed digest of the facts the plan was made from; apply refuses a saved plan when it moved. */
  factsDigest: string;
  files: FileChange[];
  services: ServiceChange[];
  runtime: RuntimeChange[];
  daemonReload: boolean;
  semantic: SemanticChange[];
  /** Sensitive files that could not be compared because their secret values were not available. */
  uncompared: string[];
  /**
   * Keyed digest (HMAC, the host's key) of every sensitive file as this plan would write it, its
   * secret values filled in: a saved plan refuses to apply once any of them changed. Reveals nothing.
   */
  secretsDigest?: string;
  edge?: EdgeChange;
  securityGroup?: SecurityGroupChange;
  /**
   * OpenClaw's own state across a change of its version: copied before the new version first runs
   * (it may migrate it), or, on a rollback across such a change, restored from that copy with what
   * is there now kept aside.
   */
  openclawState?: { action: 'copy'; from: string; to: string } | { action: 'restore'; from: string; to: string; release: string };
  /**
   * Files systemd reads for a managed unit that clawops did not write: a drop-in, or a unit file
   * that takes precedence over clawops's. apply refuses to go on over them unless told to remove
   * them (an override may be deliberate); the units they touch restart without them.
   */
  overrides?: Override[];
  /** Units listening on other addresses than their configuration says: reported, for a person to look at. */
  listeners?: ListenerDrift[];
  /** Warnings of OpenClaw's security audit the environment accepts, each with its reason (security.accept). */
  acceptedFindings?: AcceptedFinding[];
  /**
   * Drift's run of the host's deep security audit: the findings that appeared since the release
   * (critical, or a warning neither accepted nor found by the apply's own audit), or why it did not run.
   */
  securityAudit?: { newFindings: { severity: string; checkId: string; title: string }[] } | { error: string };
  /** The TLS hop's served certificate, as drift reads it from outside (gateway.tls). */
  certificate?: { url: string; ok: boolean; detail: string };
  /** Another apply's lock on the host when the plan was made: who, since when, and whether it runs. */
  lock?: { holder: string; since: string; alive: boolean; rebooted?: boolean };
}

/** A managed unit listening where its configuration does not say (a hand edit of its unit or env file). */
export interface ListenerDrift {
  unit: string;
  port: number;
  /** loopback: 127.0.0.1 or ::1 only; lan: every address of the host (0.0.0.0 or ::). */
  expected: 'loopback' | 'lan';
  /** The addresses it listens on. */
  found: string[];
}

export const listenerText = (l: ListenerDrift): string =>
  `listens on ${l.found.map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ')} port ${l.port}; configured ${l.expected === 'loopback' ? 'loopback only' : 'every address (bind lan)'}`;

export interface Override {
  unit: string;
  path: string;
  kind: 'drop-in' | 'unit file';
}

export interface PlanCounts {
  add: number;
  change: number;
  destroy: number;
  restarts: string[];
  reloads: string[];
  /** Edge functions deployed or given new settings. */
  redeploys: string[];
}

export function countPlan(plan: Plan): PlanCounts {
  const files = plan.files;
  return {
    add: files.filter((f) => f.action === 'create').length + plan.runtime.filter((r) => r.action === 'install' && !r.from).length + sgRules(plan, 'authorize'),
    change: files.filter((f) => f.action === 'update').length + plan.runtime.filter((r) => r.action === 'install' && r.from).length + sgRules(plan, 'describe'),
    destroy: files.filter((f) => f.action === 'delete').length + (plan.overrides?.length ?? 0) + sgRules(plan, 'revoke'),
    restarts: plan.services.filter((s) => s.action === 'restart' || s.action === 'start').map((s) => s.name.replace(/\.service$/, '')),
    redeploys: plan.edge && (plan.edge.action === 'deploy' || plan.edge.action === 'settings') ? [plan.edge.name] : [],
    reloads: plan.services.filter((s) => s.action === 'reload').map((s) => s.name.replace(/\.service$/, '').replace(/^openclaw-gateway$/, 'openclaw')),
  };
}

const sgRules = (plan: Plan, action: SecurityGroupRuleChange['action']) => plan.securityGroup?.rules.filter((r) => r.action === action).length ?? 0;

export function hasChanges(plan: Plan): boolean {
  return (
    plan.securityGroup?.rules.some((r) => r.action !== 'no-op') ||
    plan.files.some((f) => f.action !== 'no-op') ||
    plan.services.some((s) => s.action !== 'no-op' || s.enable) ||
    plan.runtime.some((r) => r.action !== 'no-op') ||
    (plan.overrides?.length ?? 0) > 0 ||
    (plan.edge !== undefined && (plan.edge.action === 'deploy' || plan.edge.action === 'settings'))
  );
}

/** "Plan: 1 to add, 2 to change, 0 to destroy; restarts: gemini-proxy; reloads: openclaw" */
export function summaryLine(plan: Plan): string {
  if (!hasChanges(plan)) return plan.securityGroup ? 'No changes. The host and its security group match the configuration.' : 'No changes. The host matches the configuration.';
  const c = countPlan(plan);
  let line = `Plan: ${c.add} to add, ${c.change} to change, ${c.destroy} to destroy`;
  if (c.restarts.length) line += `; restarts: ${c.restarts.join(', ')}`;
  if (c.reloads.length) line += `; reloads: ${c.reloads.join(', ')}`;
  if (c.redeploys.length) line += `; redeploys: ${c.redeploys.join(', ')}`;
  return line;
}
