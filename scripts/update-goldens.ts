/**
 * Rewrites the golden renders (test/golden/<env>/) from the repository's config with fixed inputs.
 * Run after an intended change to config or the renderer, and review the diff: npm run golden
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestOf } from '../src/render/manifest.js';
import { render, stableJson } from '../src/render/render.js';
import { FIXED_CONTEXT, repoConfig } from '../test/support/repo.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../test/golden/', import.meta.url));

const config = await repoConfig();
rmSync(GOLDEN_DIR, { recursive: true, force: true });
for (const env of config.environments) {
  const state = render(config, env.name, FIXED_CONTEXT);
  const files = [...state.files.map((f) => [f.name, f.content] as const), ['manifest.json', stableJson(manifestOf(state))] as const];
  for (const [name, content] of files) {
    const path = `${GOLDEN_DIR}${env.name}/${name}`;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  console.log(`wrote ${files.length} golden files for ${env.name}`);
}
