// Runs every test file under test/, two at a time (one per core), longest first, and keeps the
// suite inside its time budget: each file's output is printed whole when it ends, then a table of
// every file's duration and the total, then one closing line "N passed, N failed".
//
//   npx tsx scripts/run-tests.ts [--jobs N] [--budget SECONDS] [--record] [FILE...]
//
// Longest first: the order comes from the durations of the last run on this machine
// (.scratch/test-durations.json), or from test/durations.json, which `--record` rewrites; a file
// neither knows is taken as long, so a new end-to-end file never starts last. The budget (45
// minutes, CLAWOPS_TEST_BUDGET_SECONDS) is checked while the suite runs: when it is used up the
// files still running are stopped and the run fails with the durations, rather than running into
// CI's own limit and saying nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RECORDED = join(ROOT, 'test/durations.json');
const LAST_RUN = join(ROOT, '.scratch/test-durations.json');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    jobs: { type: 'string', default: process.env.CLAWOPS_TEST_JOBS ?? '2' },
    budget: { type: 'string', default: process.env.CLAWOPS_TEST_BUDGET_SECONDS ?? String(45 * 60) },
    record: { type: 'boolean', default: false },
  },
});
const jobs = Number(values.jobs);
const budgetSeconds = Number(values.budget);
if (!Number.isInteger(jobs) || jobs < 1) usage('--jobs takes a whole number of parallel files');
if (!Number.isFinite(budgetSeconds) || budgetSeconds <= 0) usage('--budget takes seconds');

function usage(message: string): never {
  process.stderr.write(`run-tests: ${message}\n`);
  process.exit(64);
}

interface Counts {
  pass: number;
  fail: number;
  skipped: number;
  todo: number;
  cancelled: number;
}

interface FileResult {
  file: string;
  seconds: number;
  code: number | null;
  counts: Counts | undefined;
  stopped: boolean;
}

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await testFiles(path)));
    else if (entry.name.endsWith('.test.ts')) out.push(relative(ROOT, path));
  }
  return out;
}

async function readDurations(path: string): Promise<Record<string, number>> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** The totals node's spec reporter prints last ("ℹ pass 12"), summed over its lines. */
function parseCounts(output: string): Counts | undefined {
  const counts: Counts = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
  let seen = false;
  for (const m of output.matchAll(/^ℹ (pass|fail|skipped|todo|cancelled) (\d+)$/gm)) {
    counts[m[1] as keyof Counts] += Number(m[2]);
    seen = true;
  }
  return seen ? counts : undefined;
}

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}

const fmt = (s: number) => `${s.toFixed(1).padStart(7)} s`;

async function main(): Promise<number> {
  const files = positionals.length > 0 ? positionals : await testFiles(join(ROOT, 'test'));
  const known = { ...(await readDurations(RECORDED)), ...(await readDurations(LAST_RUN)) };
  const expected = (f: string) => known[f] ?? Number.POSITIVE_INFINITY;
  const queue = [...files].sort((a, b) => expected(b) - expected(a) || a.localeCompare(b));

  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const results: FileResult[] = [];
  const running = new Map<string, { child: ChildProcess; output: () => string; since: number }>();
  let overBudget = false;

  process.stdout.write(`== tests: ${queue.length} files, ${jobs} at a time, longest first; budget ${budgetSeconds} s\n`);

  const runOne = (file: string) =>
    new Promise<void>((resolve) => {
      const since = Date.now();
      process.stdout.write(`[${fmt(elapsed())}] start ${file}\n`);
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
        cwd: ROOT,
        // Not inside another test run's context (a test of this runner): the file runs on its own.
        env: { ...withoutTestContext(process.env), FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group, so a file stopped over budget goes with its children
      });
      let output = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
      running.set(file, { child, output: () => output, since });
      child.on('close', (exitCode) => {
        let code = exitCode;
        running.delete(file);
        const seconds = (Date.now() - since) / 1000;
        const counts = parseCounts(output);
        const stopped = overBudget;
        // A file that exited 0 without node's closing counts did not run its tests: a failure.
        if (code === 0 && counts === undefined) code = 1;
        results.push({ file, seconds, code, counts, stopped });
        const verdict = code === 0 ? 'ok' : stopped ? 'STOPPED (over budget)' : exitCode === 0 ? 'FAILED (no test report)' : `FAILED (exit ${exitCode})`;
        process.stdout.write(`\n──── ${file}: ${verdict} in ${seconds.toFixed(1)} s ────\n${output.trimEnd()}\n──── end of ${file} ────\n\n`);
        resolve();
      });
    });

  const budgetTimer = setInterval(() => {
    if (elapsed() < budgetSeconds || overBudget) return;
    overBudget = true;
    queue.length = 0;
    process.stdout.write(`\n[${fmt(elapsed())}] the budget of ${budgetSeconds} s is used up: stopping ${[...running.keys()].join(', ')}\n`);
    for (const { child } of running.values()) {
      const group = -child.pid!;
      try {
        process.kill(group, 'SIGTERM');
      } catch {}
      setTimeout(() => {
        try {
          process.kill(group, 'SIGKILL');
        } catch {}
      }, 20_000).unref();
    }
  }, 1000);

  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runOne(file);
    }),
  );
  clearInterval(budgetTimer);

  const total = elapsed();
  const byTime = [...results].sort((a, b) => b.seconds - a.seconds);
  const sum = results.reduce((s, r) => s + r.seconds, 0);
  process.stdout.write('== durations, longest first\n');
  for (const r of byTime) {
    const state = r.code === 0 ? '' : r.stopped ? '  stopped over budget' : '  FAILED';
    process.stdout.write(`${fmt(r.seconds)}  ${r.file}${state}\n`);
  }
  process.stdout.write(`${fmt(total)}  total (wall clock, ${jobs} at a time; ${sum.toFixed(1)} s of files), budget ${budgetSeconds} s\n`);

  // Only a whole run says how long the suite's files take; a run of a few chosen files says nothing.
  const measured = Object.fromEntries(results.filter((r) => !r.stopped).map((r) => [r.file, Math.round(r.seconds * 10) / 10]));
  if (positionals.length === 0) {
    await mkdir(join(ROOT, '.scratch'), { recursive: true });
    await writeFile(LAST_RUN, `${JSON.stringify({ ...(await readDurations(LAST_RUN)), ...measured }, null, 2)}\n`);
  }
  if (values.record) {
    const sorted = Object.fromEntries(Object.entries(measured).sort(([a], [b]) => a.localeCompare(b)));
    await writeFile(RECORDED, `${JSON.stringify(sorted, null, 2)}\n`);
  }

  const totals = results.reduce(
    (t, r) => ({
      pass: t.pass + (r.counts?.pass ?? 0),
      fail: t.fail + (r.counts?.fail ?? 0) + (r.counts?.cancelled ?? 0) + (r.code !== 0 && !r.counts?.fail && !r.counts?.cancelled ? 1 : 0),
      skipped: t.skipped + (r.counts?.skipped ?? 0) + (r.counts?.todo ?? 0),
    }),
    { pass: 0, fail: 0, skipped: 0 },
  );
  if (overBudget) {
    process.stdout.write(`The suite went over its budget of ${budgetSeconds} s: the durations above say where the time went.\n`);
  }
  process.stdout.write(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped\n`);
  return totals.fail > 0 || overBudget || results.some((r) => r.code !== 0) ? 1 : 0;
}

process.exitCode = await main();
