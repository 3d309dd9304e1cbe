/**
 * The chain probe as apply installs it for the read-only user: run for real with this Node, with
 * the plan written beside it, against an OpenAI-compatible stand-in. It follows its own plan and
 * nothing else, keeps the record of its own runs, returns the earlier ones, and refuses a run
 * sooner than the plan's interval after the last. Then the facts program's `--chain`: it takes no
 * other word, and where the host has no probe it says so.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { factsAccessScript } from '../../src/apply/facts-access.js';
import { factsProgramText } from '../../src/plan/facts-program.js';
import { lockAliveShell } from '../../src/plan/facts.js';
import { factsAccess } from '../../src/render/facts-access.js';
import { render } from '../../src/render/render.js';
import { chainProbePlan, chainReport, healthOfRuns, issueDecision, type ChainProbe } from '../../src/smoke/chain.js';
import { INSTALLED_CHAIN_PROBE_PROGRAM, installedChainPlan, parseInstalledProbe, type InstalledChainPlan, type InstalledProbeOutput } from '../../src/smoke/chain-program.js';
import { startOpenAIStandin, type OpenAIStandin } from '../support/openai-standin.js';
import { FIXED_CONTEXT, repoConfig } from '../support/repo.js';
import { runCommand } from '../support/spawn.js';

const KEYS = { DEEPSEEK_API_KEY: 'canary-installed-deepseek-key-9a1f', GROQ_API_KEY: 'canary-installed-groq-key-8b2e' };

const run = (command: string, args: readonly string[], input = '') => runCommand(command, args, { input });

let root: string;
let upstream: OpenAIStandin;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clawops-chain-installed-'));
  upstream = await startOpenAIStandin();
});
after(async () => {
  await upstream?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function plan(envFile: string): InstalledChainPlan {
  const probe = (step: number, provider: string, model: string, variable: string): ChainProbe => ({
    step,
    ref: `${provider}/${model}`,
    provider,
    model,
    via: 'upstream',
    chat: { url: `${upstream.url}/${provider}/v1/chat/completions`, auth: 'bearer', body: { model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1, stream: false } },
    list: { url: `${upstream.url}/${provider}/v1/models`, auth: 'bearer', format: 'openai' },
    key: { file: envFile, variable },
  });
  return installedChainPlan({ probes: [probe(1, 'deepseek', 'deepseek-chat', 'DEEPSEEK_API_KEY'), probe(2, 'groq', 'llama-3.3-70b-versatile', 'GROQ_API_KEY')], timeoutMs: 10_000 });
}

describe('the installed chain probe', () => {
  let dir: string;
  let runs: string;
  const probe = () => run(process.execPath, [join(dir, 'chain-probe.mjs'), join(dir, 'chain-plan.json'), runs]);
  /** Moves the record's last start back, as if the interval had passed. */
  const pastInterval = async () => {
    const record = JSON.parse(await readFile(join(runs, 'runs.json'), 'utf8')) as { lastStart: string };
    record.lastStart = new Date(Date.parse(record.lastStart) - 901_000).toISOString();
    await writeFile(join(runs, 'runs.json'), JSON.stringify(record));
  };

  before(async () => {
    dir = join(root, 'facts');
    runs = join(dir, 'chain-runs');
    await mkdir(runs, { recursive: true });
    const envFile = join(root, 'gateway.env');
    await writeFile(envFile, `DEEPSEEK_API_KEY=${KEYS.DEEPSEEK_API_KEY}\nGROQ_API_KEY="${KEYS.GROQ_API_KEY}"\n`, { mode: 0o600 });
    await writeFile(join(dir, 'chain-probe.mjs'), INSTALLED_CHAIN_PROBE_PROGRAM);
    await writeFile(join(dir, 'chain-plan.json'), JSON.stringify(plan(envFile)));
    upstream.serve(['deepseek-chat', 'llama-3.3-70b-versatile']);
  });

  test('it probes the steps of the plan beside it, records the run as its own user, and returns no key', async () => {
    upstream.set('llama-3.3-70b-versatile', 'rate-limit');
    const before = upstream.requests.length;
    // A plan on standard input is not read: the program follows the plan file.
    const elsewhere = { ...plan(join(root, 'gateway.env')), probes: plan(join(root, 'gateway.env')).probes.map((p) => ({ ...p, chat: { ...p.chat, url: `${upstream.url}/elsewhere/chat/completions` } })) };
    const r = await run(process.execPath, [join(dir, 'chain-probe.mjs'), join(dir, 'chain-plan.json'), runs], JSON.stringify(elsewhere));
    assert.equal(r.code, 0, r.stderr);
    const out = parseInstalledProbe(r.stdout)!;
    assert.ok(out, r.stdout);
    assert.deepEqual(out.probes.map((p) => p.ref), ['deepseek/deepseek-chat', 'groq/llama-3.3-70b-versatile']);
    assert.deepEqual(out.previous, [], 'the first run has none before it');
    const report = chainReport('ec2', out.at, out, out.answers);
    assert.deepEqual(report.steps.map((s) => s.state), ['ok', 'rate limited / quota']);
    const asked = upstream.requests.slice(before).filter((q) => q.path.endsWith('/chat/completions'));
    assert.deepEqual(asked.map((q) => q.path).sort(), ['/deepseek/v1/chat/completions', '/groq/v1/chat/completions']);
    for (const key of Object.values(KEYS)) assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key));
    const record = await stat(join(runs, 'runs.json'));
    assert.equal(record.mode & 0o777, 0o600);
    assert.equal(record.uid, process.getuid!());
  });

  test('a second run before the interval is refused, and sends nothing', async () => {
    const before = upstream.requests.length;
    const r = await probe();
    assert.equal(r.code, 64);
    assert.match(r.stderr, /^chain-probe: refused: the chain was probed at \S+; one run per 900 s, the next in \d+ s$/m);
    assert.equal(r.stdout, '');
    assert.equal(upstream.requests.length, before, 'no request reached a provider');
  });

  test('after the interval it returns the earlier runs, from which the health counts consecutive failures; a run where every step answers ends the record', async () => {
    await pastInterval();
    const second = parseInstalledProbe((await probe()).stdout) as InstalledProbeOutput;
    assert.equal(second.previous.length, 1);
    const health = healthOfRuns('ec2', second.previous, chainReport('ec2', second.at, second, second.answers));
    assert.deepEqual(health.steps['groq/llama-3.3-70b-versatile'], { state: 'rate limited / quota', failedRuns: 2, since: second.previous[0]!.at });
    assert.equal(issueDecision(health), 'report', 'failed on two runs in a row');
    // What it keeps of a model list is whether the probed model was in it.
    assert.deepEqual(second.previous[0]!.answers.map((a) => a.list.ids), [['deepseek-chat'], ['llama-3.3-70b-versatile']]);

    upstream.reset();
    upstream.serve(['deepseek-chat', 'llama-3.3-70b-versatile']);
    await pastInterval();
    const third = parseInstalledProbe((await probe()).stdout) as InstalledProbeOutput;
    assert.equal(third.previous.length, 2);
    assert.equal(issueDecision(healthOfRuns('ec2', third.previous, chainReport('ec2', third.at, third, third.answers))), 'close');
    await pastInterval();
    const fourth = parseInstalledProbe((await probe()).stdout) as InstalledProbeOutput;
    assert.deepEqual(fourth.previous.map((p) => p.at), [third.at], 'kept back to the newest run in which every step answered');
  });

  test('a record folder it cannot write stops it before any request', async () => {
    const before = upstream.requests.length;
    const r = await run(process.execPath, [join(dir, 'chain-probe.mjs'), join(dir, 'chain-plan.json'), join(root, 'no-such-folder')]);
    assert.equal(r.code, 73);
    assert.match(r.stderr, /^chain-probe: cannot keep the record of runs in .*no-such-folder: ENOENT$/m);
    assert.equal(upstream.requests.length, before);
  });
});

describe("the facts program's --chain", () => {
  const user = userInfo().username;
  const isRoot = process.getuid?.() === 0;
  let program: string;
  before(async () => {
    const access = factsAccess('clawops-facts', join(root, 'runtime'));
    await mkdir(join(root, 'runtime/facts'), { recursive: true });
    await writeFile(join(root, 'runtime/facts/allow'), '');
    program = access.program;
    await writeFile(program, factsProgramText({ restricted: true, access, chain: { user, node: process.execPath } }, lockAliveShell('"$dir/lock"')), { mode: 0o755 });
    await writeFile(join(root, 'bare-facts'), factsProgramText({ restricted: true, access }, lockAliveShell('"$dir/lock"')), { mode: 0o755 });
  });

  test('it takes no other word: a plan, a path or an option after it is refused', async () => {
    for (const extra of [['--plan', '/tmp/other-plan.json'], [join(root, 'gateway.env')], ['--dir', root]]) {
      const r = await run('bash', [program, '--chain', ...extra]);
      assert.equal(r.code, 64);
      assert.match(r.stderr, /^clawops-facts: refused: --chain takes no other argument$/m);
    }
  });

  test('a facts program installed without the probe refuses it', async () => {
    const r = await run('bash', [join(root, 'bare-facts'), '--chain']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /refused: this host's facts program runs no chain probe/);
  });

  test('as root, it runs the installed probe with the installed plan, one at a time', { skip: !isRoot && 'runs as root: the read-only user reaches it through its sudo rule (test/e2e/facts-user.test.ts)' }, async () => {
    const facts = join(root, 'runtime/facts');
    await writeFile(join(facts, 'chain-probe.mjs'), INSTALLED_CHAIN_PROBE_PROGRAM);
    await writeFile(join(facts, 'chain-plan.json'), JSON.stringify(plan(join(root, 'gateway.env'))));
    await mkdir(join(facts, 'chain-runs'), { recursive: true });
    upstream.reset();
    upstream.serve(['deepseek-chat', 'llama-3.3-70b-versatile']);
    const r = await run('bash', [program, '--chain']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseInstalledProbe(r.stdout)?.answers.map((a) => a.chat.status), [200, 200]);
    // While another run holds the plan's lock, a second is refused at once.
    const holder = spawn('flock', ['-x', join(facts, 'chain-plan.json'), 'bash', '-c', 'echo locked; read -r _'], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const busy = await run('bash', [program, '--chain']);
      assert.equal(busy.code, 64);
      assert.match(busy.stderr, /^clawops-facts: refused: a chain probe is already running$/m);
    } finally {
      holder.stdin.end('\n');
      await new Promise((resolve) => holder.on('close', resolve));
    }
  });
});

describe("apply's setup of the read-only user", () => {
  test("on ec2 it installs the probe, the plan rendered from the configuration, and the record folder of the gateway's user; the program runs them with the release's Node", async () => {
    const config = await repoConfig();
    const desired = render(config, 'ec2', FIXED_CONTEXT);
    const chainPlan = installedChainPlan(chainProbePlan(config, desired, 'ec2'));
    const script = factsAccessScript(desired, chainPlan)!;
    const access = desired.host.facts!;
    // Each file goes in as base64 after its path and mode: decode what the script writes there.
    const written = (path: string) => {
      const m = new RegExp(`fresh '${path.replace(/[./]/g, (c) => `\\${c}`)}' (\\d+) '([A-Za-z0-9+/=]+)'`).exec(script);
      return m ? { mode: m[1], content: Buffer.from(m[2]!, 'base64').toString('utf8') } : null;
    };
    assert.deepEqual(written(access.chainProgram), { mode: '644', content: INSTALLED_CHAIN_PROBE_PROGRAM });
    const planned = JSON.parse(written(access.chainPlan)!.content) as InstalledChainPlan;
    assert.deepEqual(planned.probes.map((p) => p.ref), config.chain);
    assert.equal(planned.minIntervalSeconds, 900);
    assert.match(script, /install -d -o 'ubuntu' -g "\$\(id -gn 'ubuntu'\)" -m 0700 '\/opt\/clawops\/facts\/chain-runs'/);
    const program = written(access.program)!.content;
    assert.match(program, /^chain_user='ubuntu' chain_node='\/opt\/clawops\/node\/[0-9.]+\/bin\/node'$/m);
    // Without the plan (an apply that has none to give), nothing of the probe is installed or run.
    const bare = factsAccessScript(desired)!;
    assert.doesNotMatch(bare, /chain-probe|chain-plan|chain-runs/);
  });
});
