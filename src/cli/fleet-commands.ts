/**
 * plan, drift and apply across a fleet. plan and drift ask every host at once; apply rolls out in
 * batches (apply/rollout.ts), each host one whole single-host apply with its own lock and gates.
 */
import { apply, type ApplyResult } from '../apply/apply.js';
import { recordAuditFindings } from '../apply/audit-record.js';
import { applyEdge, holdNextToken, planEdge } from '../apply/edge.js';
import { InterruptedError } from '../apply/errors.js';
import { gatherFacts } from '../apply/host.js';
import { rollout, type HostOutcome, type RolloutResult } from '../apply/rollout.js';
import { applySecurityGroup, planSecurityGroup } from '../apply/security-group.js';
import { diff } from '../plan/diff.js';
import { hasChanges, type Plan } from '../plan/model.js';
import { driftItems, renderDriftText, renderDriftMarkdown } from '../report/drift.js';
import { renderPlanJson } from '../report/json.js';
import { renderRolloutText } from '../report/rollout.js';
import { renderPlanText } from '../report/terminal.js';
import { hostOpenclawCommand } from '../render/host-openclaw.js';
import type { Transport } from '../transport/transport.js';
import type { Deployment, HostLink } from './deploy.js';
import { DEPLOY_EXIT, planOfHost, releaseInput } from './deploy-commands.js';
import type { Output } from './output.js';

type Gathered = { host: HostLink; plan: Plan } | { host: HostLink; error: string };

/**
 * Every host's plan, gathered at once; a host that cannot be planned says why. The group and the
 * edge function are the environment's, planned once. `readOnly` as in planOfHost.
 */
export async function fleetPlans(d: Deployment, opts: { readOnly?: boolean; audit?: boolean } = {}): Promise<Gathered[]> {
  return Promise.all(
    d.hosts.map((host) =>
      planOfHost(d, (o) => host.connect(o), opts).then(
        (plan) => ({ host, plan }),
        (e: unknown) => ({ host, error: e instanceof Error ? e.message : String(e) }),
      ),
    ),
  );
}

const heading = (h: HostLink) => `── ${h.name}${h.label ? ` (${h.label})` : ''}: ${h.where} ──`;

export async function fleetPlanCommand(d: Deployment, opts: { json: boolean; out?: string; detailedExitcode: boolean; verbose: boolean; readOnly?: boolean }, output: Output): Promise<number> {
  if (opts.out) {
    output.err(`error: a saved plan is for one host; ${d.envName} is a fleet of ${d.hosts.length}: save one host's plan with --host NAME`);
    return DEPLOY_EXIT.error;
  }
  const plans = await fleetPlans(d, { readOnly: opts.readOnly ?? false });
  const group = d.securityGroup ? (await planSecurityGroup(d.securityGroup)).change : undefined;
  const edge = d.edge ? (await planEdge(d.edge)).change : undefined;
  if (opts.json) {
    output.out(
      `${JSON.stringify(
        {
          environment: d.envName,
          revision: d.revision,
          hosts: plans.map((g) => ({ name: g.host.name, target: g.host.where, ...('plan' in g ? { plan: JSON.parse(renderPlanJson(g.plan)) } : { error: g.error }) })),
          ...(group ? { securityGroup: group } : {}),
          ...(edge ? { edge } : {}),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    for (const g of plans) output.out(`${heading(g.host)}\n${'plan' in g ? renderPlanText(g.plan, { verbose: opts.verbose }) : `✘ could not plan: ${g.error}\n`}`);
    // The group and the edge function belong to the environment: shown once, after its hosts.
    if (group || edge) {
      const shared = { ...emptyPlan(d), ...(group ? { securityGroup: group } : {}), ...(edge ? { edge } : {}) };
      output.out(`── ${d.envName}: shared by every host ──\n${renderPlanText(shared)}`);
    }
    const changing = plans.filter((g) => 'plan' in g && hasChanges(g.plan)).length;
    const failed = plans.filter((g) => 'error' in g).length;
    output.out(`Fleet ${d.envName}: ${changing} of ${plans.length} hosts would change${failed ? `, ${failed} could not be planned` : ''}.`);
  }
  if (plans.some((g) => 'error' in g)) return DEPLOY_EXIT.error;
  const changes = plans.some((g) => 'plan' in g && hasChanges(g.plan)) || (group?.rules.some((r) => r.action !== 'no-op') ?? false) || (!!edge && edge.action !== 'no-op' && edge.action !== 'unknown');
  return opts.detailedExitcode && changes ? DEPLOY_EXIT.changes : DEPLOY_EXIT.ok;
}

function emptyPlan(d: Deployment): Plan {
  return { environment: d.envName, target: d.envName, revision: d.revision, factsDigest: '', files: [], services: [], runtime: [], daemonReload: false, semantic: [], uncompared: [] };
}

export async function fleetDriftCommand(d: Deployment, opts: { format: 'text' | 'markdown' | 'json' }, output: Output): Promise<number> {
  // Drift never writes: as the read-only facts user, where there is one. It runs each host's deep audit too.
  const plans = await fleetPlans(d, { readOnly: true, audit: true });
  let drifted = false;
  if (opts.format === 'json') {
    const hosts = plans.map((g) => ({ name: g.host.name, target: g.host.where, ...('plan' in g ? { drift: driftItems(g.plan) } : { error: g.error }) }));
    output.out(`${JSON.stringify({ environment: d.envName, revision: d.revision, hosts }, null, 2)}\n`);
  }
  for (const g of plans) {
    if ('plan' in g && driftItems(g.plan).length) drifted = true;
    if (opts.format === 'json') continue;
    const body = 'plan' in g ? (opts.format === 'markdown' ? renderDriftMarkdown(g.plan) : renderDriftText(g.plan)) : `✘ could not compare: ${g.error}\n`;
    output.out(opts.format === 'markdown' ? `### ${g.host.name}\n\n${body}` : `${heading(g.host)}\n${body}`);
  }
  if (plans.some((g) => 'error' in g)) return DEPLOY_EXIT.error;
  return drifted ? DEPLOY_EXIT.changes : DEPLOY_EXIT.ok;
}

/** What one host's apply came to, in the rollout's words. */
function outcomeOf(host: string, r: ApplyResult): HostOutcome {
  const before = r.previous ? `release ${r.previous}` : 'no release';
  switch (r.outcome) {
    case 'applied':
      return { host, status: 'applied', ...(r.release ? { release: r.release } : {}), on: `release ${r.release}` };
    case 'no-changes':
      return { host, status: 'no-changes', on: `${before} (already this revision)` };
    case 'rolled-back':
      return { host, status: 'rolled-back', ...(r.release ? { release: r.release } : {}), step: 'activate', cause: r.cause ?? 'a health gate failed', on: `its previous ${before}` };
    case 'failed':
      return { host, status: 'failed', ...(r.release ? { release: r.release } : {}), step: 'activate', cause: r.cause ?? 'the release did not come up', on: r.previous ? `unknown: release ${r.release} did not come up and release ${r.previous} could not be restored` : `no running release: ${r.release} did not come up and there was none before it` };
  }
}

/**
 * A host's deep security audit after its apply (`openclaw security audit --deep`, with the
 * release's OpenClaw), as a single host's apply runs it among its smoke checks. Its findings are
 * recorded with the host's live release, so drift reports only what appears later. A critical
 * finding or a warning the environment does not accept fails the host, which stays on the release
 * it was given: the rollout counts it as a failure and stops by its policy.
 */
async function auditAfterApply(d: Deployment, t: Transport, outcome: HostOutcome, r: ApplyResult, progress: (line: string) => void): Promise<HostOutcome> {
  if ((outcome.status !== 'applied' && outcome.status !== 'no-changes') || d.desired.services === 'none' || !hostOpenclawCommand(d.desired, [])) return outcome;
  const live = r.release ?? r.previous;
  const on = (then: string) => (live ? `release ${live}, kept: ${then}` : 'unknown');
  const step = 'security audit --deep';
  progress(step);
  // Loaded here: the smoke's modules are code plan and drift never run.
  const [{ hostDeepAudit }, { deepAuditVerdict }] = await Promise.all([import('./smoke-command.js'), import('../smoke/smoke.js')]);
  let verdict: ReturnType<typeof deepAuditVerdict>;
  try {
    verdict = deepAuditVerdict(await hostDeepAudit(d, t), d.config.environments.find((e) => e.name === d.envName)?.security?.accept ?? []);
  } catch (e) {
    return { ...outcome, status: 'failed', step, cause: e instanceof Error ? e.message : String(e), on: on('its audit did not run') };
  }
  if (live) {
    await recordAuditFindings(t, d.desired, live, verdict.findings).catch((e: unknown) =>
      progress(`warning: the deep audit's findings were not recorded with release ${live}, so drift reports each warning it finds: ${e instanceof Error ? e.message : String(e)}`),
    );
  }
  progress(`${verdict.ok ? '✔' : '✘'} ${step}: ${verdict.detail}`);
  return verdict.ok ? outcome : { ...outcome, status: 'failed', step, cause: verdict.detail, on: on('fix the findings and apply again, or roll it back') };
}

export async function fleetApplyCommand(
  d: Deployment,
  opts: { breakLock: boolean; prune?: boolean; lockWaitSeconds: number; json: boolean; ask?: boolean; smoke?: boolean },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(DEPLOY_EXIT.interrupted);
    interrupt.abort();
    output.err(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping the rollout (again to end at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const policy = d.rollout ?? { batch: 1, maxFailPercentage: 0 };
    const say = (text: string) => (opts.json ? output.err(text) : output.out(text));
    if (opts.ask) {
      // One question for the fleet, with every host's plan: each host plans again under its lock.
      const plans = await fleetPlans(d);
      for (const g of plans) say(`${heading(g.host)}\n${'plan' in g ? renderPlanText(g.plan) : `✘ could not plan: ${g.error}\n`}`);
      const answer = await output.ask!(`\nDo you want to roll these changes out to ${d.envName} (${d.hosts.length} hosts, batches of ${policy.batch})?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `, interrupt.signal);
      if (answer.trim() !== 'yes') {
        output.err(`Apply cancelled: nothing was changed on ${d.envName}.`);
        return DEPLOY_EXIT.error;
      }
    }
    // A new gateway token: the function holds it beside the current one before any gateway restarts with it.
    if (d.edge) {
      const early = await planEdge(d.edge);
      if (await holdNextToken(d.edge, early)) {
        if (!opts.json) output.err(`edge function ${early.change.name}: holds the next gateway token beside the current one until every host runs it`);
      }
    }
    const links = new Map(d.hosts.map((h) => [h.name, h]));
    const details = new Map<string, { log: string[]; plan?: Plan }>();
    const result: RolloutResult = await rollout(
      d.hosts.map((h) => h.name),
      policy,
      async (name) => {
        const link = links.get(name)!;
        const progress = opts.json ? () => {} : (line: string) => output.err(`[${name}] ${line}`);
        const t = await link.connect();
        try {
          const r = await apply({
            signal: interrupt.signal,
            transport: t,
            ...releaseInput(d, processEnv),
            breakLock: opts.breakLock,
            prune: opts.prune ?? false,
            lockWaitMs: opts.lockWaitSeconds * 1000,
            progress,
          });
          details.set(name, { log: r.log, plan: r.plan });
          return opts.smoke === false ? outcomeOf(name, r) : await auditAfterApply(d, t, outcomeOf(name, r), r, progress);
        } catch (e) {
          if (e instanceof InterruptedError) details.set(name, { log: [e.message] });
          throw e;
        } finally {
          await t.close();
        }
      },
      { signal: interrupt.signal, onBatch: (i, hosts) => (opts.json ? undefined : output.err(`batch ${i + 1}: ${hosts.join(', ')}`)) },
    );
    const ok = result.hosts.every((h) => h.status === 'applied' || h.status === 'no-changes');
    // The group and the edge function follow the whole fleet: only once every host is applied.
    let sharedFailure: string | undefined;
    if (ok && d.securityGroup) {
      const planned = await planSecurityGroup(d.securityGroup);
      if (planned.change.rules.some((r) => r.action !== 'no-op')) {
        try {
          const done = await applySecurityGroup(d.securityGroup, planned);
          if (!opts.json) output.err(`security group ${planned.change.id}: ${done.authorized} rule(s) allowed, ${done.revoked} revoked${done.described ? `, ${done.described} described anew` : ''}`);
        } catch (e) {
          sharedFailure = `the hosts are applied, but the security group was not: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    if (ok && !sharedFailure && d.edge) {
      const planned = await planEdge(d.edge);
      if (planned.change.action === 'deploy' || planned.change.action === 'settings') {
        try {
          await applyEdge(d.edge, planned);
        } catch (e) {
          sharedFailure = `the hosts are applied, but the edge function was not deployed: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    const failures = result.hosts.filter((h) => h.status === 'failed' || h.status === 'rolled-back');
    // The whole rollout in one word: rolled back when every host that failed is back on its previous release.
    const outcome = ok
      ? result.hosts.every((h) => h.status === 'no-changes') ? 'no-changes' : 'applied'
      : failures.length && failures.every((h) => h.status === 'rolled-back') ? 'rolled-back' : 'failed';
    if (opts.json) {
      const hosts = result.hosts.map((h) => ({ ...h, target: links.get(h.host)!.where, log: details.get(h.host)?.log ?? [], ...(details.get(h.host)?.plan ? { plan: JSON.parse(renderPlanJson(details.get(h.host)!.plan!)) } : {}) }));
      output.out(`${JSON.stringify({ outcome, environment: d.envName, revision: d.revision, rollout: result.policy, batches: result.batches, ...(result.stopped ? { stopped: result.stopped } : {}), hosts }, null, 2)}\n`);
    } else {
      output.out(renderRolloutText(d.envName, d.revision, result, (h) => links.get(h)!.where));
      if (ok) {
        const audited = opts.smoke !== false && d.desired.services !== 'none' && hostOpenclawCommand(d.desired, []) !== null;
        output.out(`${audited ? 'Each host passed its deep security audit; the other smoke checks' : 'The smoke checks'} run per host: clawops smoke --env ${d.envName} --host NAME.`);
      }
    }
    if (sharedFailure) {
      output.err(`error: ${sharedFailure}`);
      return DEPLOY_EXIT.error;
    }
    if (result.stopped?.reason === 'interrupted') return DEPLOY_EXIT.interrupted;
    return outcome === 'applied' || outcome === 'no-changes' ? DEPLOY_EXIT.ok : outcome === 'rolled-back' ? DEPLOY_EXIT.rolledBack : DEPLOY_EXIT.error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
