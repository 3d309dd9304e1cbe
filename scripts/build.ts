/**
 * Builds what ships: the CLI as one bundled file (dist/clawops.mjs: one file loads faster than a
 * tree of modules, which matters for a command run on every push) and the three proxies as
 * self-contained programs (dist/proxies/<kind>-proxy.mjs). Run: npm run build
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build, type Plugin } from 'esbuild';
import { buildProxies } from './build-proxies.js';
import { buildHostPrograms } from './build-host.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * yaml's package resolves to its CommonJS build under Node; its ES module build (the same code,
 * published for other platforms) lets the bundler drop what clawops does not use, and validate
 * starts faster.
 */
const yamlEsm: Plugin = {
  name: 'yaml-esm',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: createRequire(import.meta.url).resolve('yaml/package.json').replace(/package\.json$/, 'browser/index.js') }));
  },
};

export async function buildCli(outdir: string): Promise<void> {
  await build({
    entryPoints: { clawops: `${root}src/cli/main.ts` },
    outdir,
    outExtension: { '.js': '.mjs' },
    // Code only some commands need (SSH) lives in chunks loaded on demand, so validate starts fast.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    legalComments: 'none',
    // Loaded only when needed, from node_modules: the Actions toolkit inside GitHub Actions, the AWS
    // SDK for Parameter Store secrets and EC2 Instance Connect; ssh2 carries a native addon.
    external: ['@actions/core', '@aws-sdk/client-ssm', '@aws-sdk/client-ec2-instance-connect', 'node-ssh', 'ssh2'],
    plugins: [yamlEsm],
    // Some dependencies are CommonJS and require node built-ins.
    banner: { js: "import { createRequire as __clawopsRequire } from 'node:module'; const require = __clawopsRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await rm(`${root}dist`, { recursive: true, force: true });
  await buildCli(`${root}dist`);
  const programs = await buildProxies(`${root}dist/proxies`);
  for (const p of programs) console.log(`built ${p.path}`);
  for (const p of await buildHostPrograms(`${root}dist/host`)) console.log(`built ${p.path}`);
  console.log(`built ${root}dist/clawops.mjs`);
}
