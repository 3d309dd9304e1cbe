/**
 * Bundles each proxy into one self-contained program, `<outDir>/<kind>-proxy.mjs`, that runs with
 * nothing but Node 20 (`node gemini-proxy.mjs --config proxy.json`). The output is deterministic
 * (paths in it are relative to the repository, no timestamps), so building twice gives the same
 * bytes and the rendered plan shows no change when the proxy code did not change.
 *
 * Run: npx tsx scripts/build-proxies.ts [outDir]   (default dist/proxies)
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PROXY_KINDS } from '../src/proxies/config.js';
import type { ProxyKind } from '../src/proxies/config.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BuiltProxy {
  kind: ProxyKind;
  path: string;
  sha256: string;
}

export async function buildProxies(outDir: string): Promise<BuiltProxy[]> {
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const built: BuiltProxy[] = [];
  for (const kind of PROXY_KINDS) {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [`src/proxies/${kind}-proxy.ts`],
      outfile: join(dir, `${kind}-proxy.mjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      write: false,
      metafile: true,
      sourcemap: false,
      legalComments: 'none',
      charset: 'utf8',
      banner: { js: `// ${kind}-proxy: OpenAI-compatible proxy for ${kind}, built by clawops (scripts/build-proxies.ts). Do not edit.` },
      logLevel: 'warning',
    });
    // Self-contained means node built-ins only: anything else would have to be installed next to it.
    for (const input of Object.keys(result.metafile.inputs)) {
      if (!input.startsWith('src/proxies/')) throw new Error(`${kind}-proxy would bundle ${input}; proxies may use node built-ins only`);
    }
    for (const output of Object.values(result.metafile.outputs)) {
      for (const imp of output.imports) {
        if (!imp.path.startsWith('node:')) throw new Error(`${kind}-proxy imports ${imp.path} at run time; use the node: prefix for built-ins`);
      }
    }
    const file = result.outputFiles[0]!;
    await writeFile(file.path, file.contents);
    built.push({ kind, path: file.path, sha256: createHash('sha256').update(file.contents).digest('hex') });
  }
  return built;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? join(root, 'dist/proxies');
  for (const p of await buildProxies(outDir)) console.log(`${p.sha256}  ${p.path}`);
}
