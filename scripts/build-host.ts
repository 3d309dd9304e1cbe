/**
 * Bundles the programs clawops runs on a host into one self-contained file each, as the proxies
 * are (scripts/build-proxies.ts): `<outDir>/ssm-env.mjs`, which reads a host's own secrets from
 * Parameter Store with its instance role (src/secrets/host-ssm-program.ts), the AWS SDK inside it.
 * It runs with the release's Node and nothing installed beside it. Deterministic output.
 *
 * Run: npx tsx scripts/build-host.ts [outDir]   (default dist/host)
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildHostPrograms(outDir: string): Promise<{ path: string; sha256: string }[]> {
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/secrets/host-ssm-program.ts'],
    outfile: join(dir, 'ssm-env.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    write: false,
    metafile: true,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    // The SDK has CommonJS parts that require node built-ins.
    banner: { js: "// ssm-env: reads this host's secrets from Parameter Store, built by clawops (scripts/build-host.ts). Do not edit.\nimport { createRequire as __clawopsRequire } from 'node:module'; const require = __clawopsRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.path.startsWith('node:') && !imp.external) continue;
      if (!imp.path.startsWith('node:')) throw new Error(`ssm-env imports ${imp.path} at run time; it must be self-contained`);
    }
  }
  const file = result.outputFiles[0]!;
  await writeFile(file.path, file.contents);
  return [{ path: file.path, sha256: createHash('sha256').update(file.contents).digest('hex') }];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const p of await buildHostPrograms(process.argv[2] ?? join(root, 'dist/host'))) console.log(`${p.sha256}  ${p.path}`);
}
