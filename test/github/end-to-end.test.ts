// The GitHub commands as a workflow runs them: the CLI in its own process, inside "GitHub Actions"
// (GITHUB_ACTIONS, the event file, the summary and output files), talking to the GitHub stand-in
// over real HTTP through the real octokit adapter. A canary secret in the environment must reach
// no request body, no output, no job summary and no artifact.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMMENT_LIMIT } from '../../src/report/markdown.js';
import { markers } from '../../src/report/markers.js';
import { scratchRepo } from '../support/cli.js';
import { startGitHubStandIn, type GitHubStandIn } from '../support/github-standin.js';
import { actionsFiles, clawopsFromSource, fixturePrograms, pullRequestEvent } from '../support/github-run.js';

const TOKEN = 'ghs_e2e_token_5f1c';
const CANARY = 'canary-e2e-3b9d7a61f0';
let gh: GitHubStandIn;
before(async () => {
  gh = await startGitHubStandIn({ owner: 'acme', repo: 'claw', token: TOKEN });
});
after(() => gh.close());

/** What Actions gives a step, pointed at the stand-in, with every secret of config/secrets.yaml set to a canary. */
async function actionsEnv(extra: Record<string, string>) {
  const files = await actionsFiles();
  const secrets = ['DEEPSEEK_API_KEY', 'KIMI_API_KEY', 'CEREBRAS_API_KEY', 'MISTRAL_API_KEY', 'GROQ_API_KEY', 'OPENROUTER_API_KEY', 'GEMINI_API_KEY'];
  return {
    files,
    env: {
      GITHUB_ACTIONS: 'true',
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: 'acme/claw',
      GITHUB_API_URL: gh.url,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '4242',
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_OUTPUT: files.output,
      CLAWOPS_GITHUB_RETRIES: '0',
      CLAWOPS_GITHUB_THROTTLE: 'off',
      OPENCLAW_GATEWAY_TOKEN: CANARY,
      ...Object.fromEntries(secrets.map((s) => [s, `${CANARY}-${s}`])),
      ...extra,
    },
  };
}

/** The canary may appear only in the mask command @actions/core writes for it. */
function assertNoCanary(where: string, text: string): void {
  const lines = text.split('\n').filter((l) => l.includes(CANARY) && !l.startsWith('::add-mask::'));
  assert.deepEqual(lines, [], `${where} carries the canary`);
}

describe('pr-report over HTTP', () => {
  test('planned against a host: one sticky comment past a page of others, updated on the next push; no secret anywhere', async () => {
    const pr = gh.addPullRequest({ title: 'Move cerebras up' });
    for (let i = 0; i < 101; i++) gh.addComment(pr.number, `discussion ${i}`);
    const base = await scratchRepo();
    const head = await scratchRepo();
    const state = await mkdtemp(join(tmpdir(), 'clawops-state-'));
    // The "host" already has a gateway.env, with another token: planning compares it, and shows no value.
    await writeFile(join(state, 'gateway.env'), 'OPENCLAW_GATEWAY_TOKEN=an-older-token\n', { mode: 0o600 });
    const programs = await fixturePrograms();
    const out = await mkdtemp(join(tmpdir(), 'clawops-plan-out-'));
    const { env, files } = await actionsEnv({
      GITHUB_EVENT_PATH: await pullRequestEvent({ number: pr.number }),
      OPENCLAW_STATE_DIR: state,
      CLAWOPS_REVISION: 'abc123',
      CLAWOPS_TEST_PROGRAMS: programs.programsDir,
    });
    const args = ['pr-report', '--env', 'local', '--root', head, '--base-root', base, '--plan', '--out', out];

    const first = await clawopsFromSource(args, env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^Plan comment on pull request #${pr.number}: created\\.$`, 'm'));
    const chain = join(head, 'config/fallback-chain.yaml');
    await writeFile(chain, (await readFile(chain, 'utf8')).replace('  - deepseek/deepseek-chat\n  - kimi/kimi-k2.5\n', '  - kimi/kimi-k2.5\n  - deepseek/deepseek-chat\n'));
    const second = await clawopsFromSource(args, env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`^Plan comment on pull request #${pr.number}: updated\\.$`, 'm'));

    const ours = gh.comments.filter((c) => c.issue === pr.number && c.body.startsWith(markers.plan('local')));
    assert.equal(ours.length, 1, 'one comment for every push');
    assert.match(ours[0]!.body, /^- chain step moved: kimi\/kimi-k2\.5 from step 2 to step 1$/m);
    assert.match(ours[0]!.body, new RegExp(`\\| ~ \\| \`${state}/gateway\\.env\` \\(sensitive\\) \\| content differs \\|`));
    assert.ok(gh.requests.some((r) => r.path.endsWith(`/issues/${pr.number}/comments`) && r.query.page === '2'), 'the second page was read');

    assert.match(first.stdout, /^::add-mask::/m, 'secret values are masked in the log');
    const summary = await readFile(files.summary, 'utf8');
    assert.match(summary, /## clawops plan · `local`/);
    for (const [where, text] of [
      ['stdout', first.stdout + second.stdout],
      ['stderr', first.stderr + second.stderr],
      ['the job summary', summary],
      ['plan.md', await readFile(join(out, 'plan.md'), 'utf8')],
      ['GITHUB_OUTPUT', await readFile(files.output, 'utf8')],
      ...gh.requests.map((r) => [`${r.method} ${r.path}`, r.body] as const),
    ] as const) {
      assertNoCanary(where, text);
    }
  });

  test('a plan over the limit is cut at a file and links the full plan in the artifact', async () => {
    const pr = gh.addPullRequest({ title: 'New proxy programs' });
    const base = await scratchRepo();
    const baseRender = await mkdtemp(join(tmpdir(), 'clawops-base-render-'));
    // The base branch rendered by its own clawops, with small programs; the pull request's are large.
    const rendered = await clawopsFromSource(['render', '--env', 'ec2', '--root', base, '--out', baseRender], { CLAWOPS_TEST_PROGRAMS: (await fixturePrograms()).programsDir });
    assert.equal(rendered.code, 0, rendered.stderr);
    const out = await mkdtemp(join(tmpdir(), 'clawops-plan-out-'));
    const { env } = await actionsEnv({
      GITHUB_EVENT_PATH: await pullRequestEvent({ number: pr.number }),
      CLAWOPS_TEST_PROGRAMS: (await fixturePrograms(900)).programsDir,
    });
    const artifact = 'https://github.com/acme/claw/actions/runs/4242/artifacts/777';
    const run = await clawopsFromSource(['pr-report', '--env', 'ec2', '--root', base, '--base-root', base, '--base-render', baseRender, '--out', out, '--artifact-url', artifact], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Plan against ec2 skipped: no AWS credentials are available to this run/);

    const posted = gh.requests.filter((r) => r.method === 'POST' && r.path === `/repos/acme/claw/issues/${pr.number}/comments`);
    assert.equal(posted.length, 1);
    const body = JSON.parse(posted[0]!.body).body as string;
    assert.ok(body.length <= COMMENT_LIMIT, `${body.length} characters`);
    assert.ok(body.includes(`the full plan is in the workflow artifact: [plan.md](${artifact})`));
    assert.equal((body.match(/<details>/g) ?? []).length, (body.match(/<\/details>/g) ?? []).length);
    const full = await readFile(join(out, 'plan.md'), 'utf8');
    assert.ok(full.length > COMMENT_LIMIT, 'the artifact holds the whole plan');
    assert.equal((full.match(/<\/details>/g) ?? []).length, 3, 'three programs changed');
    for (const r of gh.requests) assertNoCanary(`${r.method} ${r.path}`, r.body);
  });

  test('an API error fails the command with the status and path, and no token', async () => {
    const pr = gh.addPullRequest({ title: 'forbidden' });
    gh.fail({ method: 'POST', path: `/repos/acme/claw/issues/${pr.number}/comments`, status: 403, message: 'Resource not accessible by integration' });
    const { env } = await actionsEnv({ GITHUB_EVENT_PATH: await pullRequestEvent({ number: pr.number }), CLAWOPS_TEST_PROGRAMS: (await fixturePrograms()).programsDir });
    const base = await scratchRepo();
    const run = await clawopsFromSource(['pr-report', '--env', 'ec2', '--root', base, '--base-root', base, '--no-plan'], env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`^error: GitHub API: POST /repos/acme/claw/issues/${pr.number}/comments: 403 Resource not accessible by integration$`, 'm'));
    assert.ok(!run.stdout.includes(TOKEN) && !run.stderr.includes(TOKEN));
  });
});

describe('drift and apply over HTTP', () => {
  test('drift --report-issue opens the issue, then leaves it alone; nothing carries a secret', async () => {
    const root = await scratchRepo();
    const state = await mkdtemp(join(tmpdir(), 'clawops-state-'));
    const { env, files } = await actionsEnv({ OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'rev9', CLAWOPS_TEST_PROGRAMS: (await fixturePrograms()).programsDir });
    const args = ['drift', '--env', 'local', '--root', root, '--report-issue'];
    const first = await clawopsFromSource(args, env);
    assert.equal(first.code, 2, first.stderr);
    const number = Number(/Drift issue #(\d+): opened\./.exec(first.stdout)?.[1]);
    assert.ok(number > 0, first.stdout);
    const issue = gh.issues.get(number)!;
    assert.deepEqual(issue.labels, ['clawops-drift', 'env:local']);
    assert.ok(issue.body.startsWith(`${markers.drift('local')}\nclawops found drift on \`local\``));
    const second = await clawopsFromSource(args, env);
    assert.match(second.stdout, new RegExp(`Drift issue #${number}: unchanged\\.`));
    assert.deepEqual(await readFile(join(state, 'gateway.env'), 'utf8').catch(() => 'absent'), 'absent', 'drift wrote nothing on the host');
    for (const [where, text] of [['stdout', first.stdout + second.stdout], ['summary', await readFile(files.summary, 'utf8')], ...gh.requests.map((r) => [r.path, r.body] as const)] as const) {
      assertNoCanary(where, text);
    }
  });

  test('apply-report comments on the merged pull request of the pushed commit', async () => {
    const pr = gh.addPullRequest({ title: 'merged', mergeCommitSha: 'feedc0ffee1234567890', merged: true });
    gh.setCommitPulls('feedc0ffee1234567890', [pr.number]);
    const { env, files } = await actionsEnv({ GITHUB_SHA: 'feedc0ffee1234567890' });
    const run = await clawopsFromSource(['apply-report', '--env', 'ec2', '--result', join(tmpdir(), 'no-such-apply.json'), '--exit-code', '1'], env);
    assert.equal(run.code, 1, 'a failed apply turns the job red');
    const comment = gh.comments.find((c) => c.issue === pr.number)!;
    assert.ok(comment.body.startsWith(`${markers.apply('ec2')}\n## clawops apply · \`ec2\`: ❌ failed`));
    assert.match(comment.body, /\[workflow run\]\(https:\/\/github\.com\/acme\/claw\/actions\/runs\/4242\)/);
    assert.match(await readFile(files.summary, 'utf8'), /❌ failed/);
  });
});
