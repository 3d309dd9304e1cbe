import { access, constants, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { readConfigFiles } from '../config/files.js';
import { loadConfig, type LoadResult } from '../config/load.js';
import type { RenderContext } from '../render/desired.js';
import { ProxyKind } from '../schema/provider.js';

export class UsageError extends Error {}

export async function loadWorkspace(root: string): Promise<LoadResult> {
  let files;
  try {
    files = await readConfigFiles(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new UsageError(`no config folder in ${resolve(root)}: run clawops in the deployment's repository, or pass --root DIR`);
  }
  return loadConfig(files, { openclawLocks: await openclawLocks(root) });
}

/** The OpenClaw versions whose lock the repository holds (runtime/openclaw-VERSION/package-lock.json). */
async function openclawLocks(root: string): Promise<Set<string>> {
  const versions = new Set<string>();
  let entries: string[];
  try {
    entries = await readdir(join(root, 'runtime'));
  } catch {
    return versions;
  }
  for (const name of entries) {
    const m = /^openclaw-(.+)$/.exec(name);
    if (!m) continue;
    try {
      await access(join(root, 'runtime', name, 'package-lock.json'), constants.R_OK);
      versions.add(m[1]!);
    } catch {
      // a folder without its lock is no lock
    }
  }
  return versions;
}

/** Where the CLI finds what ships beside it: the built proxy programs (dist/proxies). */
export interface Install {
  programsDir: string;
}

/** What this machine adds to a render of the local environment (see RenderContext). */
export type MachineContext = Pick<RenderContext, 'userServices' | 'foreground' | 'openclaw'>;

export async function renderContext(env: NodeJS.ProcessEnv, install: Install, machine: MachineContext = {}): Promise<RenderContext> {
  const entries = await Promise.all(
    ProxyKind.options.map(async (kind) => {
      const path = `${install.programsDir.replace(/\/?$/, '/')}${kind}-proxy.mjs`;
      try {
        return [kind, await readFile(path, 'utf8')] as const;
      } catch {
        throw new UsageError(`the ${kind} proxy is not built (${path}): run \`npm run build\``);
      }
    }),
  );
  return {
    home: env.HOME || homedir(),
    ...(env.OPENCLAW_STATE_DIR ? { stateDir: env.OPENCLAW_STATE_DIR } : {}),
    ...machine,
    proxyPrograms: Object.fromEntries(entries) as RenderContext['proxyPrograms'],
  };
}

/** A program as the shell would find it: a path as given (made absolute), a bare name on PATH. */
export async function programPath(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  const candidates = name.includes('/') ? [resolve(name)] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // Not this one.
    }
  }
  throw new UsageError(`--openclaw ${name}: no such program${name.includes('/') ? '' : ' on PATH'}`);
}
