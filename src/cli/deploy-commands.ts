import { readFile, writeFile } from 'node:fs/promises';
import { apply, type ApplyOutcome } from '../apply/apply.js';
import { InterruptedError, LockedError, NotApprovedError } from '../apply/errors.js';
import { rollback } from '../apply/rollback.js';
import { applyEdge, holdNextToken, planEdge } from '../apply/edge.js';
import { applySecurityGroup, planSecurityGroup } from '../apply/security-group.js';
import { gatherFacts } from '../apply/host.js';
import { diff } from '../plan/diff.js';
import { manifestOf } from '../render/manifest.js';
import { keyedDigest, sha256 } from '../plan/digest.js';
import { publicGatewayUrl } from '../config/gateway-url.js';
import { secretComparison, sensitiveDecisions, type SecretComparison, type SensitiveDecision } from '../plan/secret-compare.js';
import { hasChanges, ruleText, type Plan, type SecurityGroupChange } from '../plan/model.js';
import { renderDriftMarkdown, renderDriftText, driftItems } from '../report/drift.js';
import { renderPlanJson } from '../report/json.js';
import { renderPlanText } from '../report/terminal.js';
import type { Transport } from '../transport/transport.js';
import type { ConnectOptions, Deployment } from './deploy.js';
import { progressWriter, type Output, type Progress } from './output.js';
import { registryRuntimeSource } from './runtime-source.js';
import { chainProbePlan } from '../smoke/chain.js';
import { installedChainPlan } from '../smoke/chain-program.js';
import { recordAuditFindings } from '../apply/audit-record.js';
import type { SmokeCheck } from '../smoke/smoke.js';
import { UsageError } from './workspace.js';

/** Exit codes of plan, apply, drift and rollback (documented in the README). */
export const DEPLOY_EXIT = { ok: 0, error: 1, changes: 2, rolledBack: 3, locked: 4, interrupted: 130 } as const;

const outcomeExit: Record<ApplyOutcome, number> = { applied: 0, 'no-changes': 0, 'rolled-back': DEPLOY_EXIT.rolledBack, failed: DEPLOY_EXIT.error };

/** A saved plan: enough to refuse applying it when the config or the host moved since. */
interface SavedPlan {
  format: 'clawops-saved-plan/1';
  environment: string;
  revision: string;
  desiredDigest: string;
  factsDigest: string;
  /** Keyed digest of the sensitive files as the plan would write them: a rotated secret is a change. */
  secretsDigest?: string;
  /**
   * The security group as the plan compared it: its rule changes, and a digest of the comparison
   * (declared against described), so the apply refuses once the group or its rules moved.
   */
  securityGroup?: { id: string; digest: string; changes: string[] };
  /** For each sensitive file, what the plan decided by its secret source's rule (secret-comparison.ts). */
  sensitive?: Record<string, SensitiveDecision>;
  /** How the environment's secret source is compared, when the plan was made. */
  comparison?: SecretComparison;
  summary: string;
}

/** What a saved plan records of the group: a group changed by hand since, or its rules in the config, differ. */
function groupRecord(change: SecurityGroupChange): NonNullable<SavedPlan['securityGroup']> {
  const rules = [...change.rules].map((r) => `${r.action} ${ruleText(r)} "${r.description}"`).sort();
  const unmanaged = change.unmanaged.map((r) => `${ruleText(r)} "${r.description}"`).sort();
  return {
    id: change.id,
    digest: sha256(JSON.stringify({ id: change.id, action: change.action, rules, unmanaged })),
    changes: change.rules.filter((r) => r.action !== 'no-op').map((r) => `${r.action} ${ruleText(r)}`),
  };
}

const desiredDigest = (d: Deployment) => keyedDigest(manifestOf(d.desired), 'clawops-desired');
const comparisonOf = (d: Deployment) => secretComparison(d.config.environments.find((e) => e.name === d.envName)!.secrets.source);

/** What every apply of this deployment hands the engine, whichever host it runs on. */
export function releaseInput(d: Deployment, processEnv: NodeJS.ProcessEnv) {
  return {
    desired: d.desired,
    summary: d.summary,
    secrets: d.secrets,
    revision: d.revision,
    holder: d.holder,
    runtime: registryRuntimeSource(processEnv, d.root),
    ...(d.hostSecrets ? { hostSecrets: d.hostSecrets } : {}),
    // Rendered here, with the release, so that the read-only user's chain probe follows this plan and no other.
    ...(d.desired.host.facts ? { chainProbe: installedChainPlan(chainProbePlan(d.config, d.desired, d.envName)) } : {}),
  };
}

/**
 * One host's plan: its facts against the desired state. `readOnly` (plan --read-only, pr-report
 * --plan, drift): as the read-only facts user when the environment declares one, which only reads
 * facts: no lock, no upload, nothing on standard input.
 */
export async function planOfHost(d: Deployment, connect: (opts: ConnectOptions) => Promise<Transport>, opts: { readOnly?: boolean; audit?: boolean } = {}): Promise<Plan> {
  const readOnly = opts.readOnly === true && d.factsUser !== null;
  const t = await connect({ readOnly });
  try {
    const facts = await gatherFacts(t, d.desired, { readOnly, audit: opts.audit === true });
    return diff({
      desired: d.desired,
      facts,
      summary: d.summary,
      secrets: d.secrets,
      ...(d.hostSecrets ? { hostSecrets: { prefix: d.hostSecrets.prefix, versions: d.hostSecrets.versions } } : {}),
      target: t.target,
      revision: d.revision,
    });
  } finally {
    await t.close();
  }
}

/** The plan of the environment's one host, with its edge function and security group. */
export async function makePlan(d: Deployment, opts: { readOnly?: boolean; audit?: boolean } = {}): Promise<Plan> {
  const plan = await planOfHost(d, (o) => d.connect(o), opts);
  if (d.edge) plan.edge = (await planEdge(d.edge)).change;
  if (d.securityGroup) plan.securityGroup = (await planSecurityGroup(d.securityGroup)).change;
  return plan;
}

/**
 * Drift's look at the TLS hop from outside: the certificate the public URL serves, judged against
 * gateway.tls.expiryWarningDays. Loaded only here: plan and apply never open this connection.
 */
export async function withCertificate(d: Deployment, plan: Plan): Promise<Plan> {
  const env = d.config.environments.find((e) => e.name === d.envName);
  const url = env ? publicGatewayUrl(env) : undefined;
  if (!env?.gateway.tls || !url || !/^(https|wss):/.test(url)) return plan;
  const { checkCertificate } = await import('../smoke/certificate.js');
  return { ...plan, certificate: { url, ...(await checkCertificate(url, env.gateway.tls.expiryWarningDays)) } };
}

export async function planCommand(
  d: Deployment,
  opts: { json: boolean; out?: string; detailedExitcode: boolean; verbose: boolean; readOnly?: boolean },
  output: Output,
): Promise<number> {
  const plan = await makePlan(d, { readOnly: opts.readOnly ?? false });
  output.out(opts.json ? renderPlanJson(plan) : renderPlanText(plan, { verbose: opts.verbose }));
  if (opts.out) {
    const saved: SavedPlan = {
      format: 'clawops-saved-plan/1',
      environment: plan.environment,
      revision: plan.revision,
      desiredDigest: desiredDigest(d),
      factsDigest: plan.factsDigest,
      ...(plan.secretsDigest ? { secretsDigest: plan.secretsDigest } : {}),
      ...(plan.securityGroup ? { securityGroup: groupRecord(plan.securityGroup) } : {}),
      sensitive: sensitiveDecisions(plan),
      comparison: comparisonOf(d),
      summary: renderPlanText(plan),
    };
    await writeFile(opts.out, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
    if (!opts.json) output.out(`Saved this plan to ${opts.out}. Apply exactly it with: clawops apply ${opts.out}`);
  }
  return opts.detailedExitcode && hasChanges(plan) ? DEPLOY_EXIT.changes : DEPLOY_EXIT.ok;
}

export async function readSavedPlan(path: string): Promise<SavedPlan> {
  const saved = JSON.parse(await readFile(path, 'utf8')) as SavedPlan;
  if (saved.format !== 'clawops-saved-plan/1') throw new UsageError(`${path} is not a saved clawops plan`);
  return saved;
}

/**
 * Asks, with the plan, before apply or rollback changes a host elsewhere; only "yes" goes on (as
 * Terraform asks). The plan goes where the result goes, or to stderr beside --json.
 */
function approval(d: Deployment, output: Output, say: (text: string) => void, question: string, shown: { plan: boolean }) {
  return async (plan: Plan, signal?: AbortSignal): Promise<boolean> => {
    say(renderPlanText(plan));
    shown.plan = true;
    const answer = await output.ask!(`\n${question} ${d.envName} (${plan.target})?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `, signal);
    return answer.trim() === 'yes';
  };
}

/**
 * One transaction against the environment's host: connect, run, close; a held lock is exit 4, a
 * "no" at the question exit 1 with nothing changed. Progress goes to stderr, so stdout stays the result.
 */
async function transaction(
  d: Deployment,
  output: Output,
  quiet: boolean,
  what: string,
  run: (t: Transport, progress: Progress, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  // Ctrl-C or SIGTERM (a cancelled or timed-out Actions job): the first one asks the run to stop
  // where it safely can and say where the host is; a second one ends the process at once.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(DEPLOY_EXIT.interrupted);
    interrupt.abort();
    output.err(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping (again to end at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t = await d.connect();
  try {
    return await run(t, progressWriter(output, quiet), interrupt.signal);
  } catch (e) {
    if (e instanceof InterruptedError) {
      output.err(`error: ${e.message}`);
      return DEPLOY_EXIT.interrupted;
    }
    if (e instanceof LockedError) {
      output.err(`error: ${e.message}`);
      return DEPLOY_EXIT.locked;
    }
    if (e instanceof NotApprovedError) {
      output.err(`${what} cancelled: nothing was changed on ${d.envName}.`);
      return DEPLOY_EXIT.error;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await t.close();
  }
}

export async function applyCommand(
  d: Deployment,
  opts: {
    saved?: SavedPlan;
    breakLock: boolean;
    /** Remove overrides of managed units (Plan.overrides) instead of refusing. */
    prune?: boolean;
    lockWaitSeconds: number;
    json: boolean;
    /** Run the smoke checks after the apply (default). */
    smoke?: boolean;
    /** Show the plan and ask before changing anything (on a terminal). */
    ask?: boolean;
  },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
): Promise<number> {
  if (opts.saved && opts.saved.desiredDigest !== desiredDigest(d)) {
    output.err('error: the configuration changed since this plan was made; make a new plan');
    return DEPLOY_EXIT.error;
  }
  if (opts.saved?.comparison && opts.saved.comparison !== comparisonOf(d)) {
    output.err(`error: the environment's secrets are compared another way than when this plan was made (${opts.saved.comparison}, now ${comparisonOf(d)}); make a new plan`);
    return DEPLOY_EXIT.error;
  }
  const shown = { plan: false };
  return transaction(d, output, opts.json, 'Apply', async (t, p, signal) => {
    const progress = p.step;
    // The group is planned before the host, so the question shows its rules too; a host with
    // nothing to change still asks when the group has.
    const sgPlanned = d.securityGroup ? await planSecurityGroup(d.securityGroup) : undefined;
    // A saved plan is applied exactly: a group that moved since (by hand, or in the config) is a new plan.
    if (opts.saved && sgPlanned && (!opts.saved.securityGroup || opts.saved.securityGroup.digest !== groupRecord(sgPlanned.change).digest)) {
      output.err(`error: the security group ${sgPlanned.change.id} changed since this plan was made${opts.saved.securityGroup ? '' : ' (the plan did not compare it)'}; make a new plan`);
      return DEPLOY_EXIT.error;
    }
    const withGroup = (plan: Plan): Plan => (sgPlanned ? { ...plan, securityGroup: sgPlanned.change } : plan);
    const ask = opts.ask ? approval(d, output, (text) => (opts.json ? output.err(text) : output.out(text)), 'Do you want to apply these changes to', shown) : undefined;
    let asked = false;
    // A new gateway token: before the gateway restarts with it, the edge function holds it beside
    // the current one, so the bridge reaches the gateway before, during and after the restart.
    // Once approved: a "no" leaves the function as it was.
    const holdToken = async () => {
      if (!d.edge) return;
      const early = await planEdge(d.edge);
      if (await holdNextToken(d.edge, early)) progress(`edge function ${early.change.name}: holds the next gateway token beside the current one until the gateway runs it`);
    };
    if (!ask) await holdToken();
    const result = await apply({
      signal,
      transport: t,
      ...releaseInput(d, processEnv),
      ...(opts.saved
        ? {
            expectedFactsDigest: opts.saved.factsDigest,
            ...(opts.saved.secretsDigest ? { expectedSecretsDigest: opts.saved.secretsDigest } : {}),
            ...(opts.saved.sensitive ? { expectedSensitive: opts.saved.sensitive } : {}),
          }
        : {}),
      breakLock: opts.breakLock,
      prune: opts.prune ?? false,
      lockWaitMs: opts.lockWaitSeconds * 1000,
      progress,
      status: p.status,
      ...(ask
        ? {
            approve: async (plan: Plan, sig?: AbortSignal) => {
              asked = true;
              const yes = await ask(withGroup(plan), sig);
              if (yes) await holdToken();
              return yes;
            },
          }
        : {}),
    });
    // The edge function follows the host: only once the gateway it fronts is applied.
    let edgeFailure: string | undefined;
    if (d.edge && (result.outcome === 'applied' || result.outcome === 'no-changes')) {
      const planned = await planEdge(d.edge);
      result.plan.edge = planned.change;
      // Not silent: a run without the Supabase token (or the bridge's secrets) leaves the function as it was.
      if (planned.change.action === 'unknown') output.err(`warning: the edge function ${planned.change.name} was not deployed: ${planned.change.reasons.join('; ')}`);
      if (planned.change.action === 'deploy' || planned.change.action === 'settings') {
        progress(`edge function ${planned.change.name}: ${planned.change.reasons.join('; ')}`);
        try {
          const { version } = await applyEdge(d.edge, planned);
          progress(`edge function ${planned.change.name}: ${version ? `deployed version ${version}` : 'settings updated'}`);
        } catch (e) {
          edgeFailure = e instanceof Error ? e.message : String(e);
        }
      }
    }
    if (edgeFailure) {
      output.err(`error: the host is applied, but the edge function was not deployed: ${edgeFailure}`);
      return DEPLOY_EXIT.error;
    }
    // The security group follows too: what it opens is served by the host just applied.
    if (d.securityGroup && sgPlanned && (result.outcome === 'applied' || result.outcome === 'no-changes')) {
      const planned = sgPlanned;
      result.plan.securityGroup = planned.change;
      if (ask && !asked && planned.change.rules.some((r) => r.action !== 'no-op') && !(await ask(result.plan, signal))) throw new NotApprovedError();
      if (planned.change.action === 'unknown') output.err(`warning: the security group ${planned.change.id} was not compared: ${planned.change.reasons.join('; ')}`);
      if (planned.change.rules.some((r) => r.action !== 'no-op')) {
        try {
          const done = await applySecurityGroup(d.securityGroup, planned);
          progress(`security group ${planned.change.id}: ${done.authorized} rule(s) allowed, ${done.revoked} revoked${done.described ? `, ${done.described} described anew` : ''}`);
        } catch (e) {
          output.err(`error: the host is applied, but the security group was not: ${e instanceof Error ? e.message : String(e)}`);
          return DEPLOY_EXIT.error;
        }
      }
    }
    // The deployment checklist after every apply of a systemd host this machine can reach.
    let smokeFailed = false;
    let smokeChecks: SmokeCheck[] | undefined;
    if (opts.smoke !== false && d.desired.services !== 'none' && (result.outcome === 'applied' || result.outcome === 'no-changes')) {
      progress('smoke checks');
      // Loaded here: the smoke's WebSocket client is code plan, drift and rollback never run.
      const { runSmokeChecks } = await import('./smoke-command.js');
      const smoke = await runSmokeChecks(d, t, opts.json ? { out: () => {}, err: () => {} } : output, processEnv);
      if ('skipped' in smoke) progress(`smoke checks skipped: ${smoke.skipped}`);
      else if ('refused' in smoke) {
        output.err(`error: refusing to run the smoke checks: ${smoke.refused}`);
        smokeFailed = true;
      } else {
        smokeFailed = !smoke.ok;
        smokeChecks = smoke.checks;
        // What the deep audit found now is the release's: drift reports only what appears later.
        const live = result.release ?? result.previous;
        if (smoke.auditFindings && live) {
          await recordAuditFindings(t, d.desired, live, smoke.auditFindings).catch((e: unknown) =>
            output.err(`warning: the deep audit's findings were not recorded with release ${live}, so drift reports each warning it finds: ${e instanceof Error ? e.message : String(e)}`),
          );
        }
      }
    }
    if (opts.json) {
      const smoke = smokeChecks ? { smoke: { ok: !smokeFailed, checks: smokeChecks.map(({ name, ok, skipped, detail }) => ({ name, ok, ...(skipped ? { skipped } : {}), detail })) } } : {};
      output.out(`${JSON.stringify({ outcome: result.outcome, release: result.release ?? null, log: result.log, plan: JSON.parse(renderPlanJson(result.plan)), ...smoke }, null, 2)}\n`);
    } else {
      if (!shown.plan) output.out(renderPlanText(result.plan));
      const words: Record<ApplyOutcome, string> = {
        applied: `Applied release ${result.release} to ${d.envName}.`,
        'no-changes': result.plan.edge && result.plan.edge.action !== 'no-op' && result.plan.edge.action !== 'unknown'
          ? `The host already matched ${d.revision} (nothing restarted); the edge function ${result.plan.edge.name} was updated.`
          : result.plan.securityGroup?.rules.some((r) => r.action !== 'no-op')
            ? `The host already matched ${d.revision} (nothing restarted); the security group ${result.plan.securityGroup.id} was updated.`
            : `No changes: ${d.envName} already matches ${d.revision}. Nothing was restarted.`,
        'rolled-back': `Rolled back: ${result.cause ?? 'a health gate failed'}, and ${d.envName} is back on its previous release.`,
        failed: `Failed: the release did not come up${result.cause ? ` (${result.cause})` : ''} and the previous one could not be restored. See the log above.`,
      };
      output.out(words[result.outcome]);
      // The local environment's services, where nothing here runs them.
      if (d.desired.services === 'none' && d.desired.units.length && !d.desired.host.runtime && result.outcome !== 'failed') {
        output.out(`No user service manager on this machine (systemctl --user), so nothing runs these files: \`clawops up --env ${d.envName}\` runs the deployment in the foreground.`);
      }
    }
    if (smokeFailed) {
      output.err('error: the apply finished, but the smoke checks failed (see above)');
      return DEPLOY_EXIT.error;
    }
    return outcomeExit[result.outcome];
  });
}

export async function rollbackCommand(
  d: Deployment,
  opts: { to?: string; breakLock: boolean; lockWaitSeconds: number; ask?: boolean },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
): Promise<number> {
  const shown = { plan: false };
  return transaction(d, output, false, 'Rollback', async (t, p, signal) => {
    const result = await rollback({
      signal,
      transport: t,
      desired: d.desired,
      holder: d.holder,
      runtime: registryRuntimeSource(processEnv, d.root),
      breakLock: opts.breakLock,
      lockWaitMs: opts.lockWaitSeconds * 1000,
      ...(opts.to ? { to: opts.to } : {}),
      progress: p.step,
      status: p.status,
      ...(opts.ask ? { approve: approval(d, output, (text) => output.out(text), 'Do you want to roll back', shown) } : {}),
    });
    if (!shown.plan) output.out(renderPlanText(result.plan));
    const words: Record<ApplyOutcome, string> = {
      applied: `Rolled back ${d.envName} to release ${result.restored} (now live as ${result.release}).`,
      'no-changes': `No changes: ${d.envName} already runs what release ${result.restored} holds.`,
      'rolled-back': `The rollback to ${result.restored} failed its health gates; the host is back where it was.`,
      failed: `Failed: release ${result.restored} did not come up and the release before could not be restored.`,
    };
    output.out(words[result.outcome]);
    return outcomeExit[result.outcome];
  });
}

export async function driftCommand(d: Deployment, opts: { format: 'text' | 'markdown' | 'json' }, output: Output): Promise<number> {
  // Drift never writes: as the read-only facts user, where there is one. It runs the host's deep audit too.
  const plan = await withCertificate(d, await makePlan(d, { readOnly: true, audit: true }));
  const items = driftItems(plan);
  if (opts.format === 'json') output.out(`${JSON.stringify({ environment: plan.environment, target: plan.target, revision: plan.revision, drift: items }, null, 2)}\n`);
  else if (opts.format === 'markdown') output.out(renderDriftMarkdown(plan));
  else output.out(renderDriftText(plan));
  return items.length ? DEPLOY_EXIT.changes : DEPLOY_EXIT.ok;
}
