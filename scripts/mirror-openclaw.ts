/**
 * A local copy of the npm registry's tarballs for the OpenClaw tree the repository pins
 * (runtime/openclaw-VERSION/package-lock.json, linux-x64), laid out as the registry lays them out
 * (<name>/-/<file>.tgz) under tools/registry/, each checked against the lock's sha512: what the
 * registry stand-in serves to a test host that fetches its runtime itself. Once per lock; prints
 * nothing on a cache hit.
 *
 *   tsx scripts/mirror-openclaw.ts VERSION
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openclawTree } from '../src/apply/openclaw-tree.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const UPSTREAM = 'https://registry.npmjs.org';
const MIRROR_DIR = join(ROOT, 'tools', 'registry');

const version = process.argv[2];
if (!version) {
  console.error('usage: tsx scripts/mirror-openclaw.ts VERSION');
  process.exit(2);
}
const lock = await readFile(join(ROOT, `runtime/openclaw-${version}/package-lock.json`), 'utf8');
const stamp = join(MIRROR_DIR, `.openclaw-${version}.lock`);
if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === lock) process.exit(0);

const tree = openclawTree(lock, UPSTREAM, 'x64');
console.error(`tools: mirroring the ${tree.length} tarballs of OpenClaw ${version}'s tree into tools/registry (once)`);
let next = 0;
async function worker(): Promise<void> {
  while (next < tree.length) {
    const p = tree[next++]!;
    const file = join(MIRROR_DIR, p.url.slice(UPSTREAM.length + 1));
    if (existsSync(file)) continue;
    const res = await fetch(p.url, { signal: AbortSignal.timeout(300_000) });
    if (!res.ok) throw new Error(`${p.url}: HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (createHash('sha512').update(body).digest('hex') !== p.hex) throw new Error(`${p.url} does not match the lock's sha512`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.partial`, body);
    await rename(`${file}.partial`, file);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
await writeFile(stamp, lock);
