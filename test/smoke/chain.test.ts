/**
 * The chain report: the classifier against providers' real answers (fixtures), and the whole
 * report on this machine's `local` environment, its probe program run with this Node against
 * OpenAI-compatible stand-ins (one for the unproxied upstreams, one in place of each proxy), kept
 * in the chain issue through a recording fake of the GitHub port.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyCommand } from '../../src/cli/deploy-commands.js';
import { prepare } from '../../src/cli/deploy.js';
import { chainIssueCommand, type GitHubIO } from '../../src/cli/github-commands.js';
import type { Output } from '../../src/cli/output.js';
import { chainHealthPath, runChainReport } from '../../src/cli/smoke-command.js';
import { loadWorkspace } from '../../src/cli/workspace.js';
import { renderChainTable } from '../../src/report/chain.js';
import { classifyProbe, issueDecision, nextHealth, type ChainReport, type ProbeAnswer } from '../../src/smoke/chain.js';
import { scratchRepo } from '../support/cli.js';
import { RecordingGitHub } from '../support/github-fake.js';
import { actionsFilesPerTest, fixturePrograms } from '../support/github-run.js';
import { startOpenAIStandin, type OpenAIStandin } from '../support/openai-standin.js';

interface Case {
  name: string;
  probe: { ref: string; via: 'proxy' | 'upstream'; model: string };
  answer: ProbeAnswer;
  state: string;
  detail: string;
  ms?: number;
}

const files = await actionsFilesPerTest();
const install = await fixturePrograms();
const fixtures = JSON.parse(await readFile(new URL('./fixtures/chain-answers.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('classifyProbe', () => {
  for (const c of fixtures.cases) {
    test(c.name, () => {
      const row = classifyProbe({ step: 3, ...c.probe }, { ...c.answer, step: 3 });
      assert.deepEqual(row, { step: 3, ref: c.probe.ref, via: c.probe.via, state: c.state, ...(c.ms !== undefined ? { ms: c.ms } : {}), detail: c.detail });
    });
  }
});

describe('consecutive failures', () => {
  const report = (at: string, states: Record<string, string>): ChainReport => ({
    environment: 'ec2',
    at,
    steps: Object.entries(states).map(([ref, state], i) => ({ step: i + 1, ref, via: 'upstream', state: state as never, detail: '' })),
  });

  test('one failed run waits, a second in a row reports, all answering closes; a step that recovers starts over', () => {
    const first = nextHealth(null, report('t1', { a: 'ok', b: 'rate limited / quota' }));
    assert.equal(issueDecision(first), 'wait', 'a single 429 is not news');
    const second = nextHealth(first, report('t2', { a: 'ok', b: 'rate limited / quota' }));
    assert.deepEqual(second.steps.b, { state: 'rate limited / quota', failedRuns: 2, since: 't1' });
    assert.equal(issueDecision(second), 'report');
    const flapping = nextHealth(nextHealth(second, report('t3', { a: 'ok', b: 'ok' })), report('t4', { a: 'auth failed', b: 'rate limited / quota' }));
    assert.deepEqual(flapping.steps.b, { state: 'rate limited / quota', failedRuns: 1, since: 't4' });
    assert.equal(issueDecision(flapping), 'wait');
    assert.equal(issueDecision(nextHealth(flapping, report('t5', { a: 'ok', b: 'ok' }))), 'close');
  });
});

describe('smoke --chain on the local environment', { timeout: 120_000 }, () => {
  let upstream: OpenAIStandin;
  const proxies: Record<'kimi' | 'mistral' | 'gemini', OpenAIStandin> = {} as never;
  const KEYS = {
    OPENCLAW_GATEWAY_TOKEN: 'canary-chain-gateway-token-5b1c',
    DEEPSEEK_API_KEY: 'canary-chain-deepseek-key-11aa',
    CEREBRAS_API_KEY: 'canary-chain-cerebras-key-22bb',
    GROQ_API_KEY: 'canary-chain-groq-key-33cc',
    OPENROUTER_API_KEY: 'canary-chain-openrouter-key-44dd',
    KIMI_API_KEY: 'canary-chain-kimi-key-55ee',
    MISTRAL_API_KEY: 'canary-chain-mistral-key-66ff',
    GEMINI_API_KEY: 'canary-chain-gemini-key-7700',
  };

  before(async () => {
    upstream = await startOpenAIStandin();
    for (const id of ['kimi', 'mistral', 'gemini'] as const) proxies[id] = await startOpenAIStandin();
  });
  after(async () => {
    await upstream.close();
    for (const p of Object.values(proxies)) await p.close();
  });

  /** The repository's config with every provider on a stand-in: the unproxied ones at their upstream, each proxy's port taken by a stand-in of its own. */
  async function deployment() {
    const root = await scratchRepo();
    const port = (s: OpenAIStandin) => new URL(s.url).port;
    for (const [id, from] of [['gemini', 'port: 18790'], ['mistral', 'port: 18791'], ['kimi', 'port: 18792']] as const) {
      const file = join(root, `config/providers/${id}.yaml`);
      await writeFile(file, (await readFile(file, 'utf8')).replace(from, `port: ${port(proxies[id])}`));
    }
    const local = join(root, 'config/environments/local.yaml');
    await writeFile(
      local,
      `${await readFile(local, 'utf8')}providers:\n` +
        ['deepseek', 'cerebras', 'groq', 'openrouter'].map((id) => `  ${id}:\n    baseUrl: ${upstream.url}/${id}/v1\n`).join('') +
        // The upstreams behind the proxies list their models here.
        ['kimi', 'mistral', 'gemini'].map((id) => `  ${id}:\n    upstream: ${proxies[id as 'kimi'].url}/v1\n`).join(''),
    );
    const state = await mkdtemp(join(tmpdir(), 'clawops-chain-state-'));
    const env = { HOME: '/home/operator', OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'rev1', ...KEYS };
    const loaded = await loadWorkspace(root);
    assert.ok(loaded.ok);
    const d = () => prepare(loaded.config, 'local', env, install, root);
    // The env files holding the keys, as apply writes them.
    assert.equal(await applyCommand(await d(), { breakLock: false, lockWaitSeconds: 0, json: true }, capture(), env), 0);
    return { d, env, state, chain: loaded.config.chain };
  }

  function capture(): Output & { text(): string } {
    const lines: string[] = [];
    return { out: (t) => void lines.push(t), err: (t) => void lines.push(t), text: () => lines.join('\n') };
  }
  const io = (env: Record<string, string>, github: RecordingGitHub, output: Output): GitHubIO => ({ env: { ...env, GITHUB_STEP_SUMMARY: files.summary, GITHUB_OUTPUT: files.output }, output, install, github: async () => github });

  test('each step probed where OpenClaw sends it, with its own key, classified; nothing of a key comes back', async () => {
    const { d, chain } = await deployment();
    upstream.serve(chain.filter((r) => !r.startsWith('cerebras/')).map((r) => r.slice(r.indexOf('/') + 1)));
    upstream.set('llama-3.3-70b', 'not-found');
    upstream.set('llama-3.3-70b-versatile', 'rate-limit');
    proxies.kimi.set('kimi-k2.5', 'unauthorized');
    for (const p of Object.values(proxies)) p.serve(['kimi-k2.5', 'mistral-small-latest', 'gemini-2.5-flash', 'gemini-2.5-flash-lite']);
    const before = upstream.requests.length;
    const deployed = await d();
    const t = await deployed.connect();
    let report: ChainReport;
    try {
      ({ report } = await runChainReport(deployed, t));
    } finally {
      await t.close();
      upstream.reset();
      proxies.kimi.reset();
    }
    assert.deepEqual(
      report.steps.map((s) => [s.step, s.ref, s.via, s.state]),
      [
        [1, 'deepseek/deepseek-chat', 'upstream', 'ok'],
        [2, 'kimi/kimi-k2.5', 'proxy', 'auth failed'],
        [3, 'cerebras/llama-3.3-70b', 'upstream', 'model gone'],
        [4, 'mistral/mistral-small-latest', 'proxy', 'ok'],
        [5, 'groq/meta-llama/llama-4-scout-17b-16e-instruct', 'upstream', 'ok'],
        [6, 'openrouter/meta-llama/llama-3.3-70b-instruct:free', 'upstream', 'ok'],
        [7, 'groq/llama-3.3-70b-versatile', 'upstream', 'rate limited / quota'],
        [8, 'openrouter/openai/gpt-oss-120b:free', 'upstream', 'ok'],
        [9, 'gemini/gemini-2.5-flash', 'proxy', 'ok'],
        [10, 'openrouter/nousresearch/hermes-3-llama-3.1-405b:free', 'upstream', 'ok'],
        [11, 'gemini/gemini-2.5-flash-lite', 'proxy', 'ok'],
      ],
    );
    assert.match(report.steps[6]!.detail, /^HTTP 429, retry after 120 s: rate limited \(stand-in\)$/);
    assert.ok(report.steps[0]!.ms !== undefined && report.steps[0]!.detail === `answered in ${report.steps[0]!.ms} ms`);
    // The smallest request: one token, not streamed, to the upstream with that provider's own key.
    const sent = upstream.requests.slice(before).filter((r) => r.method === 'POST');
    assert.equal(sent.length, 7, 'one chat per unproxied step');
    const sha = (s: string) => import('node:crypto').then((c) => c.createHash('sha256').update(s).digest('hex'));
    const byPath = Object.fromEntries(sent.map((r) => [r.path, r.keySha256]));
    assert.equal(byPath['/deepseek/v1/chat/completions'], await sha(KEYS.DEEPSEEK_API_KEY));
    assert.equal(byPath['/groq/v1/chat/completions'], await sha(KEYS.GROQ_API_KEY));
    assert.ok(sent.every((r) => r.stream === false));
    // Through a proxy, clawops sends no key at all: the proxy holds it.
    assert.ok(proxies.kimi.requests.filter((r) => r.method === 'POST').every((r) => r.keySha256 === null));

    const table = renderChainTable(report);
    assert.match(table, /^3 +cerebras\/llama-3\.3-70b +upstream +✘ model gone +not in the provider's model list \(10 models\)$/m);
    assert.match(table, /^3 of 11 steps failing\.$/m);
    const everything = JSON.stringify(report) + table;
    for (const v of Object.values(KEYS)) assert.ok(!everything.includes(v), `a key in the report: ${v}`);
  });

  test('--report-issue: a step failing once waits, twice in a row opens the chain issue, and it closes when every step answers', async () => {
    const { d, env, state } = await deployment();
    upstream.serve(['deepseek-chat', 'llama-3.3-70b', 'llama-3.3-70b-versatile', 'meta-llama/llama-4-scout-17b-16e-instruct', 'meta-llama/llama-3.3-70b-instruct:free', 'openai/gpt-oss-120b:free', 'nousresearch/hermes-3-llama-3.1-405b:free']);
    for (const p of Object.values(proxies)) p.serve([]);
    const github = new RecordingGitHub();
    const run = async () => {
      const output = capture();
      assert.equal(await chainIssueCommand(await d(), io(env, github, output)), 0, 'the issue is the signal: the run stays green');
      return output.text();
    };
    upstream.set('openai/gpt-oss-120b:free', 'rate-limit');
    try {
      assert.match(await run(), /No step has failed on consecutive runs: the chain issue is left as it is\./);
      assert.equal(github.chainIssues.size, 0, 'a single 429 is not news');
      const record = chainHealthPath(await d());
      assert.equal((await stat(record)).mode & 0o777, 0o600);
      assert.equal(JSON.parse(await readFile(record, 'utf8')).steps['openrouter/openai/gpt-oss-120b:free'].failedRuns, 1);

      assert.match(await run(), /^Chain issue #\d+: opened\.$/m);
      const issue = github.chainIssues.get('local')!;
      assert.equal(issue.title, 'Fallback chain on local: 1 of 11 steps failing');
      assert.match(issue.body, /^\| 8 \| `openrouter\/openai\/gpt-oss-120b:free` \| upstream \| ✘ rate limited \/ quota \| HTTP 429, retry after 120 s: rate limited \(stand-in\) \| since \S+ \|$/m);
      assert.match(issue.body, /^\| 1 \| `deepseek\/deepseek-chat` \| upstream \| ✔ ok \|  \|  \|$/m);
      assert.deepEqual((github.calls.at(-1)!.input as { labels: string[]; kind: string }).labels, ['env:local']);
      assert.equal((github.calls.at(-1)!.input as { kind: string }).kind, 'chain');
      assert.equal(github.driftIssues.size, 0, 'apart from drift');
      assert.match(await readFile(files.summary, 'utf8'), /\| 8 \| `openrouter\/openai\/gpt-oss-120b:free` \| upstream \| ✘ rate limited \/ quota \|/);

      assert.match(await run(), /^Chain issue #\d+: unchanged\.$/m, 'the same failure a third time: no new comment');
      assert.deepEqual(issue.comments, []);
    } finally {
      upstream.reset();
    }
    assert.match(await run(), /^Chain issue #\d+: closed\.$/m);
    const issue = github.chainIssues.get('local')!;
    assert.equal(issue.open, false);
    assert.match(issue.comments.at(-1)!, /^All 11 steps of the fallback chain on `local` answer again/);
    for (const body of github.bodies()) for (const v of Object.values(KEYS)) assert.ok(!body.includes(v));
    assert.ok(state);
  });
});
