import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './support/repo.js';

/**
 * Imports point one way: schema ← config ← render ← (plan ← apply) ← cli. The pure core
 * (schema, config, render) touches no file system, network, clock or process environment.
 */
const allowed: Record<string, string[]> = {
  schema: ['schema'],
  config: ['schema', 'config'],
  render: ['schema', 'config', 'render'],
  proxies: ['proxies'],
};
const impureModules = /^node:(fs|fs\/promises|child_process|net|http|https|os|dgram|dns|tls)$/;
const impureGlobals = /\bprocess\.env\b|\bDate\.now\(|\bnew Date\(|\bfetch\(/;
// The one file that reads config from disk; everything after it is pure.
const edgeFiles = new Set(['src/config/files.ts']);

async function sharedPure(jsPath: string): Promise<boolean> {
  const rel = relative(REPO_ROOT, jsPath);
  if (!rel.startsWith('supabase/functions/')) return false;
  const text = await readFile(join(REPO_ROOT, rel.replace(/\.js$/, '.ts')), 'utf8').catch(() => null);
  return text !== null && !/^(?:import|export)[^'"]*from '/m.test(text) && !impureGlobals.test(text);
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('imports point one way and the core stays pure', async () => {
  const violations: string[] = [];
  for (const path of await sources(join(REPO_ROOT, 'src'))) {
    const file = relative(REPO_ROOT, path);
    const layer = file.split('/')[1]!;
    const text = await readFile(path, 'utf8');
    const rules = allowed[layer];
    if (!rules) continue;
    for (const [, spec] of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) {
      if (spec!.startsWith('.')) {
        const target = relative(join(REPO_ROOT, 'src'), join(path, '..', spec!)).split('/')[0]!;
        // A module the bridge shares with clawops that imports nothing (one vocabulary per wire) is as pure as the layer itself.
        if (target === '..' && (await sharedPure(join(path, '..', spec!)))) continue;
        if (!rules.includes(target)) violations.push(`${file} imports ${spec} (${layer} may import only ${rules.join(', ')})`);
      } else if (layer !== 'proxies' && impureModules.test(spec!) && !edgeFiles.has(file)) {
        violations.push(`${file} imports ${spec}: the core is pure`);
      }
    }
    if (layer !== 'proxies' && impureGlobals.test(text) && !edgeFiles.has(file)) violations.push(`${file} reads the environment, the clock or the network`);
  }
  assert.deepEqual(violations, []);
});

test('the EC2 SDK is imported by its one adapter only', async () => {
  const importers: string[] = [];
  for (const path of await sources(join(REPO_ROOT, 'src'))) {
    if (/from '@aws-sdk\/client-ec2'/.test(await readFile(path, 'utf8'))) importers.push(relative(REPO_ROOT, path));
  }
  assert.deepEqual(importers, ['src/aws/ec2-adapter.ts']);
});
