// The GitHub commands (pr-report, apply-report, drift --report-issue) against a recording fake of
// the GitHub port: what they post, what they write to the job summary and plan.md, their exit codes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { applyCommand } from '../../src/cli/deploy-commands.js';
import { prepare } from '../../src/cli/deploy.js';
import { applyReportCommand, driftIssueCommand, prReportCommand, type GitHubIO } from '../../src/cli/github-commands.js';
import { GitHubError } from '../../src/github/port.js';
import type { Output } from '../../src/cli/output.js';
import { loadWorkspace, type Install } from '../../src/cli/workspace.js';
import { renderPlanJson } from '../../src/report/json.js';
import { markers } from '../../src/report/markers.js';
import { scratchRepo } from '../support/cli.js';
import { RecordingGitHub } from '../support/github-fake.js';
import { actionsFilesPerTest, fixturePrograms, pullRequestEvent } from '../support/github-run.js';
import { representativeReport } from '../support/pr-fixture.js';

const CANARY = 'canary-7d41f0-gateway-token';
const install: Install = await fixturePrograms();

function capture(): Output & { text(): string } {
  const lines: string[] = [];
  return { out: (t) => void lines.push(t), err: (t) => void lines.push(t), text: () => lines.join('\n') };
}

const files = await actionsFilesPerTest();

function io(env: Record<string, string>, github: RecordingGitHub, output: Output): GitHubIO {
  return {
    env: { HOME: '/home/operator', GITHUB_STEP_SUMMARY: files.summary, GITHUB_OUTPUT: files.output, ...env },
    output,
    install,
    github: async () => github,
  };
}

/** Step outputs as core.setOutput wrote them (name<<delimiter … delimiter). */
async function stepOutputs(): Promise<Record<string, string>> {
  const text = await readFile(files.output, 'utf8');
  return Object.fromEntries([...text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)].map((m) => [m[1]!, m[3]!]));
}

/** A pull request: the base is the repository's config, the head moves cerebras to the top of the chain. */
async function pullRequest(): Promise<{ base: string; head: string }> {
  const base = await scratchRepo();
  const head = await scratchRepo();
  const chain = join(head, 'config/fallback-chain.yaml');
  await writeFile(chain, (await readFile(chain, 'utf8')).replace('  - deepseek/deepseek-chat\n  - kimi/kimi-k2.5\n  - cerebras/llama-3.3-70b\n', '  - cerebras/llama-3.3-70b\n  - deepseek/deepseek-chat\n  - kimi/kimi-k2.5\n'));
  return { base, head };
}

describe('pr-report', () => {
  test('a fork: validate and render only, and the comment and the job summary say so', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const output = capture();
    const out = await mkdtemp(join(tmpdir(), 'clawops-plan-out-'));
    const event = await pullRequestEvent({ number: 42, fork: true });
    // Even were AWS credentials present, a fork's run never tries the host.
    const code = await prReportCommand(
      { env: 'ec2', root: head, baseRoot: base, plan: true, out, artifactUrl: 'https://example.test/artifact/1' },
      io({ GITHUB_EVENT_PATH: event, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', OPENCLAW_GATEWAY_TOKEN: CANARY }, github, output),
    );
    assert.equal(code, 0, output.text());

    assert.deepEqual(github.calls.map((c) => c.method), ['upsertComment']);
    const { input } = github.calls[0] as { input: { issueNumber: number; marker: string; body: string } };
    assert.equal(input.issueNumber, 42);
    assert.equal(input.marker, markers.plan('ec2'));
    assert.ok(input.body.startsWith(`${markers.plan('ec2')}\n## clawops plan · \`ec2\` · \`cccccccccccc\`\n`), 'the head commit it reflects');
    assert.match(input.body, /\*\*Plan against ec2 skipped: secrets are not available to pull requests from forks\.\*\*/);
    assert.match(input.body, /^- chain step moved: cerebras\/llama-3\.3-70b from step 3 to step 1$/m);
    assert.match(input.body, /```mermaid\n%%\{init: [^\n]*\nflowchart TB\n/);
    assert.match(input.body, /<details><summary>~ <code>\/home\/ubuntu\/\.openclaw\/openclaw\.json<\/code>: content differs \(\+2 −2\)<\/summary>/);
    assert.doesNotMatch(input.body, /What apply does on/, 'no plan, no host section');

    const summary = await readFile(files.summary, 'utf8');
    assert.match(summary, /^## clawops plan · `ec2` · `cccccccccccc`$/m);
    assert.match(summary, /Plan against ec2 skipped: secrets are not available to pull requests from forks/);
    assert.match(summary, /- Exit state: `skipped`/);
    assert.doesNotMatch(summary, /<details>|clawops:plan/, 'the job summary has no diffs and no marker');
    assert.equal(await readFile(join(out, 'plan.md'), 'utf8'), input.body, 'plan.md is the whole comment when it fits');
    assert.deepEqual(await stepOutputs(), { 'exit-state': 'skipped', 'comment-id': '1' });
    assert.match(output.text(), /Plan against ec2 skipped: secrets are not available to pull requests from forks\./);
    for (const text of [input.body, summary, output.text()]) assert.ok(!text.includes(CANARY));
  });

  test("a fork's read-only token cannot comment: a warning, the job summary carries the report, exit 0", async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    github.upsertComment = async () => {
      throw new GitHubError(403, 'POST', '/repos/acme/claw/issues/43/comments', 'Resource not accessible by integration');
    };
    const output = capture();
    const code = await prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: false }, io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 43, fork: true }) }, github, output));
    assert.equal(code, 0);
    assert.match(output.text(), /^warning: could not comment on pull request #43 from a fork \(403\): the report is in the job summary$/m);
    assert.match(await readFile(files.summary, 'utf8'), /Plan against ec2 skipped: secrets are not available to pull requests from forks/);
  });

  test('from this repository, a refused comment fails the run', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    github.upsertComment = async () => {
      throw new GitHubError(403, 'POST', '/repos/acme/claw/issues/44/comments', 'Resource not accessible by integration');
    };
    await assert.rejects(
      prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: false }, io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 44 }) }, github, capture())),
      GitHubError,
    );
  });

  test('every push updates the one sticky comment', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const event = await pullRequestEvent({ number: 7 });
    const run = () => prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: true }, io({ GITHUB_EVENT_PATH: event }, github, capture()));
    assert.equal(await run(), 0);
    const groq = join(head, 'config/providers/groq.yaml');
    await writeFile(groq, (await readFile(groq, 'utf8')).replace('https://api.groq.com/openai/v1', 'https://api.groq.example/v2'));
    assert.equal(await run(), 0);
    assert.equal(await run(), 0);
    assert.equal(github.comments.size, 1);
    const [comment] = [...github.comments.values()];
    assert.match(comment!.body, /groq base URL: `https:\/\/api\.groq\.com\/openai\/v1` → `https:\/\/api\.groq\.example\/v2`/);
    assert.deepEqual((await stepOutputs())['comment-id'], String(comment!.id));
  });

  test('a plan that fails unexpectedly marks the comment out of date, says why and links the run; the next plan replaces it', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const event = await pullRequestEvent({ number: 11 });
    const runEnv = { GITHUB_EVENT_PATH: event, GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/claw', GITHUB_RUN_ID: '77' };
    const run = (baseRender?: string, output = capture()) =>
      prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: true, ...(baseRender ? { baseRender } : {}) }, io(runEnv, github, output));
    assert.equal(await run(), 0);
    const [comment] = [...github.comments.values()];
    const planned = comment!.body;

    // A render of the base branch whose manifest names a file that is not there: an error no one planned for.
    const broken = await mkdtemp(join(tmpdir(), 'clawops-base-render-'));
    await writeFile(join(broken, 'manifest.json'), JSON.stringify({ files: [{ path: '/home/ubuntu/.openclaw/openclaw.json', name: 'openclaw.json', mode: '600', sensitive: false }] }));
    const output = capture();
    await assert.rejects(run(broken, output), /ENOENT/);
    assert.match(output.text(), /Plan comment on pull request #11: marked out of date\./);
    const [first, second] = comment!.body.split(`${markers.stale}\n\n`);
    assert.match(first!, /^<!-- clawops:plan:ec2 -->\n> \[!WARNING\]\n> \*\*This plan is out of date\.\*\* The plan for `cccccccccccc` failed before it could replace it: ENOENT: no such file or directory, open '[^']*openclaw\.json' \(\[workflow run\]\(https:\/\/github\.com\/acme\/claw\/actions\/runs\/77\)\)\. What follows is the plan of an earlier push\.\n$/);
    assert.equal(`${markers.plan('ec2')}\n${second}`, planned, 'what it said is kept, below the warning');

    await assert.rejects(run(broken), /ENOENT/);
    assert.equal(comment!.body.split('This plan is out of date').length, 2, 'one warning, not one per failure');
    assert.equal(await run(), 0);
    assert.equal(comment!.body, planned, 'the next plan replaces the warning');
    assert.equal(github.comments.size, 1);
  });

  test('a plan that fails before there is a comment leaves nothing to mark', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const broken = await mkdtemp(join(tmpdir(), 'clawops-base-render-'));
    await writeFile(join(broken, 'manifest.json'), JSON.stringify({ files: [{ path: '/x', name: 'missing', mode: '600', sensitive: false }] }));
    const opts = { env: 'ec2', root: head, baseRoot: base, plan: true, baseRender: broken };
    await assert.rejects(prReportCommand(opts, io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 12 }) }, github, capture())), /ENOENT/);
    assert.deepEqual(github.calls.map((c) => c.method), ['editComment']);
    assert.equal(github.comments.size, 0);
  });

  test('ec2 from this repository without AWS credentials: the plan is skipped and says so', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const code = await prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: true }, io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 8 }) }, github, capture()));
    assert.equal(code, 0);
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /\*\*Plan against ec2 skipped: no AWS credentials are available to this run \(the pull-request role, assumed by OIDC\)\.\*\*/);
  });

  test('planned against a host: the plan line, what apply does, sensitive files as (sensitive) only', async () => {
    const { base, head } = await pullRequest();
    const state = await mkdtemp(join(tmpdir(), 'clawops-state-'));
    const github = new RecordingGitHub();
    const output = capture();
    const out = await mkdtemp(join(tmpdir(), 'clawops-plan-out-'));
    const code = await prReportCommand(
      { env: 'local', root: head, baseRoot: base, plan: true, out },
      io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 9 }), OPENCLAW_STATE_DIR: state, OPENCLAW_GATEWAY_TOKEN: CANARY, CLAWOPS_REVISION: 'abc123' }, github, output),
    );
    assert.equal(code, 0, output.text());
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /^\*\*Plan: 11 to add, 0 to change, 0 to destroy\*\*$/m);
    assert.match(body, /- Exit state: `changes`: merging this pull request applies them to `local` \(`local`\)\./);
    assert.match(body, /^### What apply does on `local`$/m);
    assert.match(body, new RegExp(`^\\| \\+ \\| \`${state}/gateway\\.env\` \\(sensitive\\) \\| absent on the host \\|$`, 'm'));
    assert.match(output.text(), /^Plan: 11 to add, 0 to change, 0 to destroy$/m);
    assert.deepEqual((await stepOutputs())['exit-state'], 'changes');
    const texts = [body, await readFile(files.summary, 'utf8'), await readFile(join(out, 'plan.md'), 'utf8'), output.text(), ...github.bodies()];
    for (const text of texts) assert.ok(!text.includes(CANARY), 'the gateway token is in no report');
  });

  test('an invalid configuration: the comment lists the problems, exit 1', async () => {
    const { base, head } = await pullRequest();
    const groq = join(head, 'config/providers/groq.yaml');
    await writeFile(groq, (await readFile(groq, 'utf8')).replace('tier: free', 'tier: gratis'));
    const github = new RecordingGitHub();
    const code = await prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: true }, io({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: 10 }) }, github, capture()));
    assert.equal(code, 1);
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /\*\*The configuration is invalid: 1 problem\.\*\*/);
    assert.match(body, /config\/providers\/groq\.yaml:7:7: tier: expected one of "free", "paid"; found "gratis"/);
    assert.deepEqual((await stepOutputs())['exit-state'], 'invalid');
  });

  test('outside a pull request: plan.md and the summary, no comment', async () => {
    const { base, head } = await pullRequest();
    const github = new RecordingGitHub();
    const output = capture();
    const out = await mkdtemp(join(tmpdir(), 'clawops-plan-out-'));
    assert.equal(await prReportCommand({ env: 'ec2', root: head, baseRoot: base, plan: false, out }, io({}, github, output)), 0);
    assert.deepEqual(github.calls, []);
    assert.ok(existsSync(join(out, 'plan.md')));
    assert.match(output.text(), /no comment was posted/);
  });
});

describe('apply-report', () => {
  const result = async (outcome: string, log: string[] = []) => {
    const { plan } = await representativeReport();
    const path = join(await mkdtemp(join(tmpdir(), 'clawops-apply-')), 'apply.json');
    await writeFile(path, JSON.stringify({ outcome, release: '20260101T000000Z-abc123', log, plan: JSON.parse(renderPlanJson(plan)) }));
    return path;
  };

  test('rolled back: the merged pull request hears of it, the job turns red (exit 3)', async () => {
    const github = new RecordingGitHub();
    github.commitPulls.set('abc123def4567890', 12);
    const output = capture();
    const code = await applyReportCommand(
      { env: 'ec2', result: await result('rolled-back', ['stage', 'gate gemini-proxy: failed after 60s', 'rolled back to r1']), exitCode: 3 },
      io({ GITHUB_SHA: 'abc123def4567890', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/claw', GITHUB_RUN_ID: '99' }, github, output),
    );
    assert.equal(code, 3);
    const call = github.calls[0]!;
    assert.equal(call.method, 'commentOnPullRequestForCommit');
    const input = call.input as { sha: string; marker: string; body: string };
    assert.equal(input.sha, 'abc123def4567890');
    assert.equal(input.marker, markers.apply('ec2'));
    assert.match(input.body, /^## clawops apply · `ec2`: ❌ rolled back$/m);
    assert.match(input.body, /revision `abc123def456` is \*\*not\*\* live/);
    assert.match(input.body, /<details open><summary>Activation log on the host<\/summary>\n\n```text\nstage\ngate gemini-proxy: failed after 60s\nrolled back to r1\n```/);
    assert.match(input.body, /\[workflow run\]\(https:\/\/github\.com\/acme\/claw\/actions\/runs\/99\)/);
    assert.equal(await readFile(files.summary, 'utf8'), `${input.body}\n`, 'the job summary says the same');
    assert.match(output.text(), /Apply comment on pull request #12: created\./);
    assert.deepEqual(await stepOutputs(), { outcome: 'rolled-back' });
  });

  test('applied: exit 0; no changes: exit 0; a commit from no pull request: the job summary only', async () => {
    const github = new RecordingGitHub();
    github.commitPulls.set('1111111', 3);
    assert.equal(await applyReportCommand({ env: 'ec2', result: await result('applied'), sha: '1111111' }, io({}, github, capture())), 0);
    assert.match((github.calls[0]!.input as { body: string }).body, /✅ applied[\s\S]*Applied release `20260101T000000Z-abc123` \(revision `1111111`\) to `ec2`\./);
    const output = capture();
    assert.equal(await applyReportCommand({ env: 'ec2', result: await result('no-changes'), sha: '2222222' }, io({}, github, output)), 0);
    assert.match(output.text(), /came from no pull request: the outcome is in the job summary only/);
    assert.match(await readFile(files.summary, 'utf8'), /✅ no changes/);
  });

  test('a fleet: the comment names each host\'s outcome, and a stopped rollout turns the job red', async () => {
    const github = new RecordingGitHub();
    github.commitPulls.set('4444444', 5);
    const path = join(await mkdtemp(join(tmpdir(), 'clawops-apply-')), 'apply.json');
    const hosts = [
      { host: 'gw-1', status: 'applied', release: 'r2', on: 'release r2', target: 'ubuntu@192.0.2.1:22', log: [] },
      { host: 'gw-2', status: 'rolled-back', release: 'r2b', step: 'activate', cause: 'gate failed mistral-proxy.service', on: 'its previous release r1', target: 'ubuntu@192.0.2.2:22', log: [] },
      { host: 'gw-3', status: 'not-started', on: 'what it ran before (never started)', target: 'ubuntu@192.0.2.3:22', log: [] },
    ];
    await writeFile(path, JSON.stringify({ outcome: 'rolled-back', environment: 'ec2', revision: 'abc', rollout: { batch: 1, maxFailPercentage: 0 }, batches: [['gw-1'], ['gw-2'], ['gw-3']], stopped: { batch: 1, failed: 1, size: 1, reason: 'failures' }, hosts }));
    const output = capture();
    assert.equal(await applyReportCommand({ env: 'ec2', result: path, sha: '4444444' }, io({}, github, output)), 3);
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /^## clawops apply · `ec2`: ❌ rollout stopped$/m);
    assert.match(body, /^\| `gw-1` \| ✅ applied `r2` \| release `r2` \|$/m);
    assert.match(body, /^\| `gw-2` \| ❌ rolled back at `activate`: gate failed mistral-proxy\.service \| its previous release r1 \|$/m);
    assert.match(body, /^\| `gw-3` \| ⏸ not started \| what it ran before \(never started\) \|$/m);
    assert.match(body, /^Rollout stopped: 1 of 1 host in batch 2 failed \(more than 0%\); 1 host not started, left on what they ran\.$/m);
    assert.match(output.text(), /^gw-3: not started: on what it ran before \(never started\)$/m);
  });

  test('no result (apply stopped: locked): failed, in words, exit 1', async () => {
    const github = new RecordingGitHub();
    github.commitPulls.set('3333333', 4);
    const empty = join(await mkdtemp(join(tmpdir(), 'clawops-apply-')), 'apply.json');
    await writeFile(empty, '');
    const code = await applyReportCommand({ env: 'ec2', result: empty, exitCode: 4, sha: '3333333' }, io({}, github, capture()));
    assert.equal(code, 1);
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /❌ failed/);
    assert.match(body, /failed: another apply holds the lock on the host \(exit code 4\)\. See the run log\./);
  });

  test('no result (apply interrupted: a cancelled job): says what an interruption leaves and how to see what is live', async () => {
    const github = new RecordingGitHub();
    github.commitPulls.set('4444444', 5);
    const empty = join(await mkdtemp(join(tmpdir(), 'clawops-apply-')), 'apply.json');
    await writeFile(empty, '');
    assert.equal(await applyReportCommand({ env: 'ec2', result: empty, exitCode: 130, sha: '4444444' }, io({}, github, capture())), 1);
    const body = (github.calls[0]!.input as { body: string }).body;
    assert.match(body, /the apply was interrupted \(exit code 130: the job was cancelled or timed out\); .*a switch under way finished on the host \(run drift to see which release is live\)\. See the run log\./);
  });
});

describe('drift --report-issue', () => {
  test('opened, left alone when unchanged, closed when repaired, opened again on a hand edit; the host is never changed by drift', async () => {
    const root = await scratchRepo();
    const state = await mkdtemp(join(tmpdir(), 'clawops-state-'));
    const github = new RecordingGitHub();
    const env = { OPENCLAW_STATE_DIR: state, OPENCLAW_GATEWAY_TOKEN: CANARY, CLAWOPS_REVISION: 'rev1' };
    const loaded = await loadWorkspace(root);
    assert.ok(loaded.ok);
    const deployment = () => prepare(loaded.config, 'local', { HOME: '/home/operator', ...env }, install, root);
    const drift = async () => driftIssueCommand(await deployment(), io(env, github, capture()));

    assert.equal(await drift(), 2);
    assert.equal(await drift(), 2);
    const issue = github.driftIssues.get('local')!;
    assert.deepEqual(
      github.calls.map((c) => c.method),
      ['upsertDriftIssue', 'upsertDriftIssue'],
    );
    assert.equal(issue.open, true);
    assert.deepEqual(issue.comments, [], 'the same drift twice: no comment');
    assert.equal(issue.title, 'Drift on local');
    assert.match(issue.body, /^<!-- clawops:drift:local -->\nclawops found drift on `local` \(`local`\): 11 items\.$/m);
    assert.match(issue.body, new RegExp(`^\\| \`${state}/gateway\\.env\` \\(sensitive\\) \\| missing on the host \\| merged but not yet applied \\|$`, 'm'));
    assert.deepEqual((github.calls[0]!.input as { labels: string[] }).labels, ['env:local']);
    assert.deepEqual(await stepOutputs(), { drift: 'true', issue: String(issue.number) });

    const applied = await applyCommand(await deployment(), { breakLock: false, lockWaitSeconds: 0, json: true }, capture(), env);
    assert.equal(applied, 0);
    assert.equal(await drift(), 0);
    assert.equal(issue.open, false);
    assert.match(issue.comments.at(-1)!, /^No drift on `local` any more: the host matches `rev1`\. Closing\.$/m);

    await writeFile(join(state, 'openclaw.json'), '{"edited": "by hand"}\n');
    assert.equal(await drift(), 2);
    const again = github.driftIssues.get('local')!;
    assert.notEqual(again.number, issue.number, 'a new issue, not the closed one');
    assert.match(again.body, /openclaw\.json` \| content differs \| changed on the host by hand \|/);
    assert.equal(await readFile(join(state, 'openclaw.json'), 'utf8'), '{"edited": "by hand"}\n', 'drift changed nothing');
    for (const body of github.bodies()) assert.ok(!body.includes(CANARY));
  });
});
