import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/model.js';
import type { DesiredState } from '../render/desired.js';
import { manifestOf } from '../render/manifest.js';
import { render, stableJson } from '../render/render.js';
import type { Output } from './output.js';
import { renderContext, type Install } from './workspace.js';

/** Writes one file atomically (temp + rename), so a reader never sees half of it. */
async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export async function renderCommand(
  config: Config,
  opts: { env: string; out?: string; json: boolean },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
  install: Install,
): Promise<DesiredState> {
  const state = render(config, opts.env, await renderContext(processEnv, install));
  const manifest = manifestOf(state);
  if (opts.out) {
    const dir = resolve(opts.out);
    for (const f of state.files) await writeAtomic(join(dir, f.name), f.content, f.mode);
    await writeAtomic(join(dir, 'manifest.json'), stableJson(manifest), 0o644);
    if (!opts.json) {
      output.out(`Rendered environment ${state.environment} into ${opts.out}:`);
      for (const f of state.files) {
        const note = f.sensitive ? '  (sensitive: names only, values are filled in at apply)' : '';
        output.out(`  ${f.name.padEnd(40)} ${`0${f.mode.toString(8)}`} ${size(Buffer.byteLength(f.content)).padStart(9)}  → ${f.path}${note}`);
      }
      output.out(`  ${'manifest.json'.padEnd(40)} 0644`);
      output.out(`${state.files.length + 1} files, ${state.units.length} services.`);
    }
  }
  if (opts.json) output.out(stableJson(manifest));
  else if (!opts.out) {
    output.out(`Environment ${state.environment}: ${state.files.length} files, ${state.units.length} services.`);
    for (const f of manifest.files) output.out(`  ${f.path}  ${f.mode}  ${f.sensitive ? '(sensitive)' : f.sha256.slice(0, 12)}`);
  }
  return state;
}
