import { execFile } from 'node:child_process';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/clawops.js, as a user runs it) in a child process, on this Node or `node`. */
export function clawops(args: string[], opts: { cwd?: string; env?: Record<string, string>; node?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      opts.node ?? process.execPath,
      [join(REPO_ROOT, 'bin/clawops.js'), ...args],
      { cwd: opts.cwd ?? REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A scratch repository holding a copy of the real config, to break on purpose. */
export async function scratchRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-repo-'));
  await cp(join(REPO_ROOT, 'config'), join(dir, 'config'), { recursive: true });
  return dir;
}
