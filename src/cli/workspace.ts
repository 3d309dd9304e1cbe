import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { readConfigFiles } from '../config/files.js';
import { loadConfig, type LoadResult } from '../config/load.js';
import type { RenderContext } from '../render/desired.js';
import { ProxyKind } from '../schema/provider.js';

export class UsageError extends Error {}

export async function loadWorkspace(root: string): Promise<LoadResult> {
  return loadConfig(await readConfigFiles(root));
}

/** Where the CLI finds what ships beside it: the built proxy programs (dist/proxies). */
export interface Install {
  programsDir: string;
}

export async function renderContext(env: NodeJS.ProcessEnv, install: Install): Promise<RenderContext> {
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
    proxyPrograms: Object.fromEntries(entries) as RenderContext['proxyPrograms'],
  };
}
