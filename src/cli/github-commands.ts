import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApplyOutcome } from '../apply/apply.js';
import type { HostOutcome, RolloutResult } from '../apply/rollout.js';
import { outcomeLine, renderRolloutMarkdown } from '../report/rollout.js';
import type { Config } from '../config/model.js';
import { formatProblem } from '../config/problem.js';
import { GitHubError, type GitHubPort } from '../github/port.js';
import { hasChanges, type Plan } from '../plan/model.js';
import { compareRenders, type RenderedFile } from '../plan/render-diff.js';
import { semanticDiff, summarize } from '../plan/summary.js';
import type { Manifest } from '../render/manifest.js';
import { render } from '../render/render.js';
import { renderChainIssue, renderChainMarkdown, renderChainResolvedComment, renderChainTable } from '../report/chain.js';
import { driftItems, renderDriftMarkdown, renderDriftText } from '../report/drift.js';
import { issueDecision } from '../smoke/chain.js';
import { markers } from '../report/markers.js';
import {
  markPlanCommentStale,
  renderApplyOutcomeMarkdown,
  renderDriftIssue,
  renderDriftResolvedComment,
  renderPullRequestComment,
  renderPullRequestJobSummary,
  type PlanState,
  type PullRequestReport,
} from '../report/markdown.js';
import { renderPlanText } from '../report/terminal.js';
import { setStepOutputs, warn, writeJobSummary } from './actions.js';
import { DEPLOY_EXIT, makePlan, withCertificate } from './deploy-commands.js';
import { HostError } from '../transport/transport.js';
import { prepare, type Deployment } from './deploy.js';
import type { Output } from './output.js';
import { loadWorkspace, renderContext, UsageError, type Install } from './workspace.js';

/** Makes the GitHub port when a command first needs it: tests pass a recording fake. */
export type GitHubFactory = () => Promise<GitHubPort>;

/** What the GitHub commands get from the CLI: the environment, where output goes, the install, GitHub. */
export interface GitHubIO {
  env: NodeJS.ProcessEnv;
  output: Output;
  install: Install;
  github: GitHubFactory;
}

/** The octokit adapter, configured from the variables GitHub Actions sets (GITHUB_API_URL lets tests point it elsewhere). */
export function githubFromEnv(env: NodeJS.ProcessEnv): GitHubFactory {
  return async () => {
    const token = env.GITHUB_TOKEN;
    if (!token) throw new UsageError('GITHUB_TOKEN is not set: pass it to the step (env: GITHUB_TOKEN: ${{ github.token }})');
    const [owner, repo, ...extra] = (env.GITHUB_REPOSITORY ?? '').split('/');
    if (!owner || !repo || extra.length) throw new UsageError('GITHUB_REPOSITORY is not set as owner/name');
    const retries = Number(env.CLAWOPS_GITHUB_RETRIES ?? 3);
    const { OctokitGitHub } = await import('../github/octokit.js');
    return new OctokitGitHub({
      token,
      baseUrl: env.GITHUB_API_URL || 'https://api.github.com',
      owner,
      repo,
      retries: Number.isInteger(retries) && retries >= 0 ? retries : 3,
      throttle: env.CLAWOPS_GITHUB_THROTTLE !== 'off',
    });
  };
}

/** The run's page, which lists its artifacts: where a reader goes for logs and the full plan. */
function runUrl(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined;
}

interface PullRequestEvent {
  number: number;
  baseRef: string;
  headSha: string;
  /** From another repository: its runs get no secrets, and a read-only token. */
  fork: boolean;
}

/** The pull request this run is for, from the event payload GitHub writes to GITHUB_EVENT_PATH. */
async function pullRequestEvent(env: NodeJS.ProcessEnv): Promise<PullRequestEvent | null> {
  if (!env.GITHUB_EVENT_PATH) return null;
  let event: { pull_request?: { number: number; base: { ref: string; repo: { full_name: string } }; head: { sha: string; repo: { full_name: string } | null } } };
  try {
    event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the event payload ${env.GITHUB_EVENT_PATH}: ${(e as Error).message}`);
  }
  const pr = event.pull_request;
  if (!pr) return null;
  // A deleted fork leaves head.repo null: still not this repository.
  return { number: pr.number, baseRef: pr.base.ref, headSha: pr.head.sha, fork: pr.head.repo?.full_name !== pr.base.repo.full_name };
}

export const FORK_REASON = 'secrets are not available to pull requests from forks';

export interface PrReportOptions {
  env: string;
  root: string;
  baseRoot: string;
  /** A folder `clawops render --out` wrote from the base branch with the base branch's own clawops. */
  baseRender?: string;
  plan: boolean;
  /** Where plan.md (the full, uncut plan, for upload as an artifact) goes. */
  out?: string;
  artifactUrl?: string;
}

/**
 * The pull-request report: renders the base branch and the pull request, plans against the host
 * when this run may, and writes the sticky comment, the job summary and plan.md.
 */
export async function prReportCommand(opts: PrReportOptions, io: GitHubIO): Promise<number> {
  const event = await pullRequestEvent(io.env);
  const progress = { posted: false };
  try {
    return await prReport(opts, io, event, progress);
  } catch (e) {
    // The comment would otherwise go on showing an earlier push's plan as if it were current.
    if (event && !event.fork && !progress.posted) await markPlanStale(opts.env, event, e, io);
    throw e;
  }
}

/** Marks the pull request's plan comment out of date, saying why; a failure to do so is a warning, not the error. */
async function markPlanStale(envName: string, event: PullRequestEvent, error: unknown, io: GitHubIO): Promise<void> {
  const url = runUrl(io.env);
  const reason = error instanceof Error ? error.message : String(error);
  try {
    const github = await io.github();
    const edit = (body: string) => markPlanCommentStale(body, { environment: envName, revision: event.headSha, reason, ...(url ? { runUrl: url } : {}) });
    const r = await github.editComment({ issueNumber: event.number, marker: markers.plan(envName), edit });
    if (r) io.output.out(`Plan comment on pull request #${event.number}: marked out of date.`);
  } catch (e) {
    await warn(io.env, io.output, `could not mark the plan comment on pull request #${event.number} out of date: ${(e as Error).message}`);
  }
}

async function prReport(opts: PrReportOptions, io: GitHubIO, event: PullRequestEvent | null, progress: { posted: boolean }): Promise<number> {
  const { env: processEnv, output } = io;
  const baseRef = event?.baseRef ?? 'base';
  const revision = event ? { revision: event.headSha } : {};
  const head = await loadWorkspace(opts.root);

  let report: PullRequestReport;
  if (!head.ok) {
    // The validate job annotates the lines; here the problems go into the comment, so it is never stale.
    for (const p of head.problems) output.err(`error: ${formatProblem(p)}`);
    report = {
      environment: opts.env,
      baseRef,
      ...revision,
      chain: { before: null, after: [] },
      semantic: [],
      files: [],
      plan: { state: 'skipped', reason: 'the configuration is invalid' },
      problems: head.problems.map(formatProblem),
    };
  } else {
    const config = head.config;
    if (!config.environments.some((e) => e.name === opts.env)) {
      throw new UsageError(`unknown environment "${opts.env}" (expected one of: ${config.environments.map((e) => e.name).join(', ')})`);
    }
    const ctx = await renderContext(processEnv, io.install);
    const headState = render(config, opts.env, ctx);
    const base = await loadBase(opts.baseRoot, opts.env);
    if (!base) await warn(processEnv, output, `the base branch's config in ${opts.baseRoot} does not load or lacks ${opts.env}: there is nothing to compare the pull request with`);
    const baseFiles = (opts.baseRender ? await readRenderFolder(opts.baseRender, processEnv, output) : null) ?? (base ? render(base, opts.env, ctx).files : null);
    const before = base ? summarize(base, opts.env) : null;
    const after = summarize(config, opts.env);
    report = {
      environment: opts.env,
      baseRef,
      ...revision,
      chain: { before: before?.chain ?? null, after: after.chain },
      semantic: semanticDiff(before, after),
      files: compareRenders(baseFiles, headState.files),
      ...(headState.acceptedFindings ? { accepted: headState.acceptedFindings } : {}),
      plan: await planState(config, opts, event, io),
    };
  }

  const url = runUrl(processEnv);
  const full = renderPullRequestComment(report, { limit: Infinity, ...(url ? { runUrl: url } : {}) });
  if (opts.out) {
    await mkdir(opts.out, { recursive: true });
    await writeFile(join(opts.out, 'plan.md'), full);
  }
  if (report.plan.state === 'planned') output.out(renderPlanText(report.plan.plan));
  else if (report.plan.state === 'skipped' && !report.problems) output.out(`Plan against ${opts.env} skipped: ${report.plan.reason}.`);
  else if (report.plan.state === 'failed') output.err(`error: plan against ${opts.env} failed: ${report.plan.error}`);
  await writeJobSummary(processEnv, renderPullRequestJobSummary(report));

  const exitState = report.problems ? 'invalid' : report.plan.state === 'planned' ? (hasChanges(report.plan.plan) ? 'changes' : 'no-changes') : report.plan.state;
  const outputs: Record<string, string> = { 'exit-state': exitState };
  if (event) {
    const body = renderPullRequestComment(report, { ...(opts.artifactUrl ? { artifactUrl: opts.artifactUrl } : {}), ...(url ? { runUrl: url } : {}) });
    try {
      const github = await io.github();
      const comment = await github.upsertComment({ issueNumber: event.number, marker: markers.plan(opts.env), body });
      progress.posted = true;
      outputs['comment-id'] = String(comment.id);
      output.out(`Plan comment on pull request #${event.number}: ${comment.action}.`);
    } catch (e) {
      // A fork's token is read-only: the job summary carries the report instead.
      if (!(e instanceof GitHubError && event.fork && (e.status === 403 || e.status === 404))) throw e;
      await warn(processEnv, output, `could not comment on pull request #${event.number} from a fork (${e.status}): the report is in the job summary`);
    }
  } else {
    output.out('No pull request in this run (GITHUB_EVENT_PATH): no comment was posted.');
  }
  await setStepOutputs(processEnv, outputs);
  return report.problems || report.plan.state === 'failed' ? DEPLOY_EXIT.error : DEPLOY_EXIT.ok;
}

async function planState(config: Config, opts: PrReportOptions, event: PullRequestEvent | null, io: GitHubIO): Promise<PlanState> {
  if (event?.fork) return { state: 'skipped', reason: FORK_REASON };
  if (!opts.plan) return { state: 'skipped', reason: 'not requested (--no-plan)' };
  const target = config.environments.find((e) => e.name === opts.env)!.target;
  if (target.kind === 'ssh' && target.privateKeySecret && !io.env[target.privateKeySecret]) {
    return { state: 'skipped', reason: `the secret ${target.privateKeySecret} is not available to this run` };
  }
  // Instance Connect and SSM sessions need AWS credentials: in Actions, the OIDC role's, which
  // configure-aws-credentials puts in the environment. Without them there is no way in.
  if (target.kind === 'ssh' && (target.instanceConnect || target.via?.ssm) && !hasAwsCredentials(io.env)) {
    return { state: 'skipped', reason: 'no AWS credentials are available to this run (the pull-request role, assumed by OIDC)' };
  }
  try {
    const d = await prepare(config, opts.env, io.env, io.install, opts.root);
    // A pull request's own code plans: as the read-only facts user, where there is one.
    return { state: 'planned', plan: await makePlan(d, { readOnly: true }) };
  } catch (e) {
    const message = e instanceof UsageError || e instanceof HostError ? e.message : undefined;
    if (message === undefined) throw e;
    return { state: 'failed', error: message };
  }
}

/** The base branch's config, when it loads and has the environment; otherwise null. */
async function loadBase(root: string, env: string): Promise<Config | null> {
  try {
    const result = await loadWorkspace(root);
    return result.ok && result.config.environments.some((e) => e.name === env) ? result.config : null;
  } catch {
    return null;
  }
}

/** A render folder (render --out): its manifest, and each file's text. */
async function readRenderFolder(dir: string, env: NodeJS.ProcessEnv, output: Output): Promise<RenderedFile[] | null> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    await warn(env, output, `no render of the base branch in ${dir}: rendering the base branch's config with this clawops instead`);
    return null;
  }
  return Promise.all(
    manifest.files.map(async (f) => ({ path: f.path, mode: parseInt(f.mode, 8), sensitive: f.sensitive, content: await readFile(join(dir, f.name), 'utf8') })),
  );
}

// ---------------------------------------------------------------------------------------------

export interface ApplyReportOptions {
  env: string;
  /** What `clawops apply --json` printed; absent or empty when it stopped before a result. */
  result?: string;
  /** apply's exit code, for words when there is no result. */
  exitCode?: number;
  /** The pushed commit (default GITHUB_SHA), whose merged pull request gets the comment. */
  sha?: string;
}

interface ApplyResultJson {
  outcome: ApplyOutcome;
  release: string | null;
  log: string[];
  plan: Plan;
  smoke?: { ok: boolean; checks: { name: string; ok: boolean; skipped?: boolean; detail: string }[] };
}

const NO_RESULT: Record<number, string> = {
  [DEPLOY_EXIT.locked]: 'another apply holds the lock on the host (exit code 4)',
  [DEPLOY_EXIT.error]: 'clawops apply stopped before it had a result (exit code 1)',
  64: 'clawops apply was called wrongly (exit code 64)',
  [DEPLOY_EXIT.interrupted]:
    'the apply was interrupted (exit code 130: the job was cancelled or timed out); stopped before the switch, nothing live changed, and a switch under way finished on the host (run drift to see which release is live)',
};

/** The outcome of an apply on the merged pull request and in the job summary; rolled back or failed exits non-zero. */
export async function applyReportCommand(opts: ApplyReportOptions, io: GitHubIO): Promise<number> {
  const { env: processEnv, output } = io;
  let result: ApplyResultJson | null = null;
  if (opts.result) {
    try {
      const json = JSON.parse(await readFile(opts.result, 'utf8'));
      if (json && typeof json.outcome === 'string' && Array.isArray(json.hosts) && json.rollout) return await fleetApplyReport(opts, io, json as FleetApplyJson);
      if (json && typeof json.outcome === 'string' && json.plan) result = json;
    } catch {
      result = null;
    }
  }
  const outcome: ApplyOutcome = result?.outcome ?? 'failed';
  const plan = result ? planOf(result.plan) : null;
  const sha = opts.sha ?? processEnv.GITHUB_SHA;
  const revision = (sha ?? plan?.revision ?? 'unknown').slice(0, 12);
  const url = runUrl(processEnv);
  const detail = result ? undefined : (NO_RESULT[opts.exitCode ?? -1] ?? `clawops apply left no result${opts.exitCode !== undefined ? ` (exit code ${opts.exitCode})` : ''}`);
  const markdown = renderApplyOutcomeMarkdown(outcome, plan, {
    environment: opts.env,
    revision,
    ...(result?.release ? { release: result.release } : {}),
    ...(result?.log.length ? { log: result.log } : {}),
    ...(result?.smoke?.checks.length ? { smoke: result.smoke.checks } : {}),
    ...(detail ? { detail } : {}),
    ...(url ? { runUrl: url } : {}),
  });
  // apply --json printed no progress: the log gets the plan it carried out here.
  if (plan) output.out(renderPlanText(plan));
  output.out(`Apply to ${opts.env}: ${outcome}${detail ? ` (${detail})` : ''}.`);
  await writeJobSummary(processEnv, markdown);
  await setStepOutputs(processEnv, { outcome });
  if (sha) {
    const github = await io.github();
    const posted = await github.commentOnPullRequestForCommit({ sha, marker: markers.apply(opts.env), body: markdown });
    output.out(posted ? `Apply comment on pull request #${posted.pullRequest}: ${posted.action}.` : `Commit ${sha.slice(0, 12)} came from no pull request: the outcome is in the job summary only.`);
  }
  return outcome === 'applied' || outcome === 'no-changes' ? DEPLOY_EXIT.ok : outcome === 'rolled-back' ? DEPLOY_EXIT.rolledBack : DEPLOY_EXIT.error;
}

/** What `clawops apply --json` prints for a fleet: the rollout, each host's outcome. */
interface FleetApplyJson {
  outcome: ApplyOutcome;
  revision: string;
  rollout: RolloutResult['policy'];
  batches: string[][];
  stopped?: RolloutResult['stopped'];
  hosts: HostOutcome[];
}

/** A fleet's rollout on the merged pull request and in the job summary: each host's outcome. */
async function fleetApplyReport(opts: ApplyReportOptions, io: GitHubIO, json: FleetApplyJson): Promise<number> {
  const { env: processEnv, output } = io;
  const sha = opts.sha ?? processEnv.GITHUB_SHA;
  const revision = (sha ?? json.revision ?? 'unknown').slice(0, 12);
  const url = runUrl(processEnv);
  const rollout: RolloutResult = { policy: json.rollout, batches: json.batches, hosts: json.hosts, ...(json.stopped ? { stopped: json.stopped } : {}) };
  const markdown = `${markers.apply(opts.env)}\n${renderRolloutMarkdown(opts.env, revision, rollout)}${url ? `\n<sub>clawops · [workflow run](${url})</sub>\n` : ''}`;
  for (const h of json.hosts) output.out(`${h.host}: ${outcomeLine(h)}`);
  output.out(`Apply to ${opts.env}: ${json.outcome}.`);
  await writeJobSummary(processEnv, markdown);
  await setStepOutputs(processEnv, { outcome: json.outcome });
  if (sha) {
    const github = await io.github();
    const posted = await github.commentOnPullRequestForCommit({ sha, marker: markers.apply(opts.env), body: markdown });
    output.out(posted ? `Apply comment on pull request #${posted.pullRequest}: ${posted.action}.` : `Commit ${sha.slice(0, 12)} came from no pull request: the outcome is in the job summary only.`);
  }
  return json.outcome === 'applied' || json.outcome === 'no-changes' ? DEPLOY_EXIT.ok : json.outcome === 'rolled-back' ? DEPLOY_EXIT.rolledBack : DEPLOY_EXIT.error;
}

/** The plan model out of `apply --json` (which adds format, changes and counts beside it). */
function planOf(json: Plan): Plan {
  const { environment, target, revision, factsDigest, files, services, runtime, daemonReload, semantic, uncompared } = json;
  return { environment, target, revision, factsDigest, files, services, runtime, daemonReload, semantic, uncompared };
}

// ---------------------------------------------------------------------------------------------

/** Drift, reported as the environment's one drift issue: opened, updated, or closed when the drift is gone. Changes no host. */
export async function driftIssueCommand(d: Deployment, io: GitHubIO): Promise<number> {
  const { env: processEnv, output } = io;
  const github = await io.github();
  const plan = await withCertificate(d, await makePlan(d, { readOnly: true, audit: true }));
  const items = driftItems(plan);
  output.out(renderDriftText(plan));
  await writeJobSummary(processEnv, renderDriftMarkdown(plan));
  const url = runUrl(processEnv);
  const outputs: Record<string, string> = { drift: items.length ? 'true' : 'false' };
  if (items.length) {
    const issue = renderDriftIssue(plan, url ? { runUrl: url } : {});
    const r = await github.upsertDriftIssue({ env: d.envName, title: issue.title, body: issue.body, labels: [`env:${d.envName}`], changeComment: issue.changeComment });
    outputs.issue = String(r.number);
    output.out(`Drift issue #${r.number}: ${r.action}.`);
  } else {
    const closed = await github.closeDriftIssue({ env: d.envName, comment: renderDriftResolvedComment(plan, url ? { runUrl: url } : {}) });
    if (closed) {
      outputs.issue = String(closed.number);
      output.out(`Drift issue #${closed.number}: closed.`);
    }
  }
  await setStepOutputs(processEnv, outputs);
  return items.length ? DEPLOY_EXIT.changes : DEPLOY_EXIT.ok;
}

/**
 * The chain report, kept in the environment's chain issue (apart from drift). Each run's health is
 * recorded on the host (by the probe itself, where the read-only user runs it), so the issue opens or changes only when a step has failed on consecutive
 * runs, and closes once every step answers again. Exit 0 whatever the chain's state: the issue is
 * the signal; a host that cannot be reached fails the run.
 */
export async function chainIssueCommand(d: Deployment, io: GitHubIO): Promise<number> {
  const { env: processEnv, output } = io;
  const github = await io.github();
  const { chainConnect, runChainReport } = await import('./smoke-command.js');
  const t = await chainConnect(d);
  let result;
  try {
    result = await runChainReport(d, t, { record: true });
  } finally {
    await t.close();
  }
  const { report, health } = result;
  output.out(renderChainTable(report));
  await writeJobSummary(processEnv, renderChainMarkdown(report));
  const url = runUrl(processEnv);
  const decision = issueDecision(health!);
  const outputs: Record<string, string> = { failing: String(report.steps.filter((s) => s.state !== 'ok').length) };
  if (decision === 'report') {
    const issue = renderChainIssue(report, health!, url ? { runUrl: url } : {});
    const r = await github.upsertDriftIssue({ kind: 'chain', env: d.envName, title: issue.title, body: issue.body, labels: [`env:${d.envName}`], changeComment: issue.changeComment });
    outputs.issue = String(r.number);
    output.out(`Chain issue #${r.number}: ${r.action}.`);
  } else if (decision === 'close') {
    const closed = await github.closeDriftIssue({ kind: 'chain', env: d.envName, comment: renderChainResolvedComment(report, url ? { runUrl: url } : {}) });
    if (closed) {
      outputs.issue = String(closed.number);
      output.out(`Chain issue #${closed.number}: closed.`);
    }
  } else {
    output.out('No step has failed on consecutive runs: the chain issue is left as it is.');
  }
  await setStepOutputs(processEnv, outputs);
  return DEPLOY_EXIT.ok;
}

/** Whether the AWS SDK's chain can find credentials in the environment alone (keys, a profile, a web identity, a container's). */
function hasAwsCredentials(env: NodeJS.ProcessEnv): boolean {
  return ['AWS_ACCESS_KEY_ID', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'].some((k) => !!env[k]);
}
