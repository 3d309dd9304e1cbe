import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openclawCommand } from '../../scripts/tools.js';

export interface OpenclawVerdict {
  valid: boolean;
  issues?: { path: string; message: string }[];
  warnings?: { path: string; message: string }[];
}

/** Runs the real, pinned `openclaw config validate --json` on a rendered openclaw.json. */
export async function openclawValidate(configText: string): Promise<OpenclawVerdict> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-oracle-'));
  try {
    const path = join(dir, 'openclaw.json');
    await writeFile(path, configText, { mode: 0o600 });
    const { command, args, env } = openclawCommand(['config', 'validate', '--json'], {
      HOME: dir,
      OPENCLAW_CONFIG_PATH: path,
      OPENCLAW_STATE_DIR: join(dir, 'state'),
    });
    const { stdout } = await promisify(execFile)(command, args, { env, maxBuffer: 16 << 20 }).catch(
      (e: { stdout?: string; code?: number }) => {
        if (typeof e.stdout === 'string' && e.stdout.trim().startsWith('{')) return { stdout: e.stdout };
        throw e;
      },
    );
    return JSON.parse(stdout) as OpenclawVerdict;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
