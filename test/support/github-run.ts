import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import type { Install } from '../../src/cli/workspace.js';
import { REPO_ROOT } from './repo.js';

/** Proxy programs for renders in tests: small fixtures, so no test depends on a build in dist/. */
export async function fixturePrograms(lines = 0): Promise<Install> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-programs-'));
  for (const kind of ['gemini', 'mistral', 'kimi']) {
    const body = Array.from({ length: lines }, (_, i) => `export const ${kind}Line${i} = ${i};\n`).join('');
    await writeFile(join(dir, `${kind}-proxy.mjs`), `// ${kind} proxy program (fixture)\n${body}`);
  }
  return { programsDir: dir };
}

/** The event payload of a pull_request run, as GitHub writes it to GITHUB_EVENT_PATH (the parts clawops reads). */
export async function pullRequestEvent(opts: { number: number; fork?: boolean; repository?: string }): Promise<string> {
  const repository = opts.repository ?? 'acme/claw';
  const dir = await mkdtemp(join(tmpdir(), 'clawops-event-'));
  const path = join(dir, 'event.json');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path,
    JSON.stringify({
      action: 'synchronize',
      number: opts.number,
      pull_request: {
        number: opts.number,
        base: { ref: 'main', sha: 'b'.repeat(40), repo: { full_name: repository } },
        head: { ref: 'feature', sha: 'c'.repeat(40), repo: { full_name: opts.fork ? 'stranger/claw' : repository } },
      },
      repository: { full_name: repository },
    }),
  );
  return path;
}

/** The files GitHub Actions gives a step for its summary and outputs. */
export async function actionsFiles(): Promise<{ summary: string; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-actions-'));
  const summary = join(dir, 'step-summary.md');
  const output = join(dir, 'github-output');
  await writeFile(summary, '');
  await writeFile(output, '');
  return { summary, output };
}

/**
 * @actions/core reads the summary and output files from process.env, and keeps the summary's path
 * once it has seen it: one pair of files for this process, emptied before each test and set in
 * process.env while it runs.
 */
export async function actionsFilesPerTest(): Promise<{ summary: string; output: string }> {
  const files = await actionsFiles();
  beforeEach(async () => {
    await writeFile(files.summary, '');
    await writeFile(files.output, '');
    process.env.GITHUB_STEP_SUMMARY = files.summary;
    process.env.GITHUB_OUTPUT = files.output;
  });
  afterEach(() => {
    delete process.env.GITHUB_STEP_SUMMARY;
    delete process.env.GITHUB_OUTPUT;
  });
  return files;
}

/** Runs the CLI from source in a child process, with exactly the environment given (plus PATH). */
export function clawopsFromSource(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'test/support/run-clawops.ts'), ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
