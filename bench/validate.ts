/**
 * How fast validation is, side by side with OpenClaw's own validator.
 *   - `clawops validate` as a cold CLI process (target: median ≤ 0.3 s, ≥ 10x faster than
 *     `openclaw config validate` on the rendered output, measured in the same run). OpenClaw needs
 *     Node 24, so clawops is timed on that same Node (as in the workflows) and on this machine's
 *     own Node;
 *   - in-process validate + render of both environments (target: median ≤ 20 ms).
 * Prints the figures; it asserts nothing. Run: npm run build && npx tsx bench/validate.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readConfigFiles } from '../src/config/files.js';
import { loadConfig } from '../src/config/load.js';
import { render } from '../src/render/render.js';
import { NODE24, openclawCommand } from '../scripts/tools.js';
import { FIXED_CONTEXT } from '../test/support/repo.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const time = (fn: () => void) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

// In-process: parse + schema + rules + render of every environment, files already in memory.
const files = await readConfigFiles(root);
const inProcess: number[] = [];
for (let i = 0; i < 220; i++) {
  const ms = time(() => {
    const r = loadConfig(files);
    if (!r.ok) throw new Error('config is invalid');
    for (const env of r.config.environments) render(r.config, env.name, FIXED_CONTEXT);
  });
  if (i >= 20) inProcess.push(ms); // the first runs warm the JIT up
}

// Cold processes, interleaved so both see the same machine load.
const dir = mkdtempSync(join(tmpdir(), 'clawops-bench-'));
const loaded = loadConfig(files);
if (!loaded.ok) throw new Error('config is invalid');
const rendered = join(dir, 'openclaw.json');
writeFileSync(rendered, render(loaded.config, 'ec2', FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content);
const oc = openclawCommand(['config', 'validate', '--json'], { HOME: dir, OPENCLAW_CONFIG_PATH: rendered, OPENCLAW_STATE_DIR: join(dir, 'state') });

const ours: number[] = [];
const ours24: number[] = [];
const theirs: number[] = [];
const RUNS = 9;
const validate = (node: string) => () => execFileSync(node, [join(root, 'bin/clawops.js'), 'validate'], { cwd: root, stdio: 'pipe' });
for (let i = 0; i < RUNS; i++) {
  ours.push(time(validate(process.execPath)));
  ours24.push(time(validate(NODE24)));
  theirs.push(time(() => execFileSync(oc.command, oc.args, { env: oc.env, stdio: 'pipe' })));
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const here = `Node ${process.versions.node}`;
const node24 = `Node ${execFileSync(NODE24, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()}`;
const rows = [
  [`clawops validate (cold process, ${node24})`, ms(median(ours24)), '≤ 300 ms'],
  [`clawops validate (cold process, ${here})`, ms(median(ours)), '≤ 300 ms'],
  [`openclaw config validate (cold process, ${node24})`, ms(median(theirs)), ''],
  [`ratio openclaw / clawops, both on ${node24}`, `${(median(theirs) / median(ours24)).toFixed(1)}x`, '≥ 10x'],
  [`ratio openclaw / clawops on ${here}`, `${(median(theirs) / median(ours)).toFixed(1)}x`, ''],
  ['validate + render both envs (in process)', ms(median(inProcess)), '≤ 20 ms'],
];
console.log(`validate benchmark: ${RUNS} cold runs each (interleaved), ${inProcess.length} in-process runs; medians`);
for (const [what, value, target] of rows) console.log(`  ${what!.padEnd(52)} ${value!.padStart(10)}   ${target ? `target ${target}` : ''}`);
