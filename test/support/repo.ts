import { fileURLToPath } from 'node:url';
import { readConfigFiles } from '../../src/config/files.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { formatProblem } from '../../src/config/problem.js';
import type { FileText } from '../../src/config/source.js';
import type { RenderContext } from '../../src/render/desired.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The repository's own config files: every test starts from the real deployment. */
export const repoFiles = (): Promise<FileText[]> => readConfigFiles(REPO_ROOT);

/** A copy of the files with one file's text changed; fails loudly if the edit did not apply. */
export function edit(files: readonly FileText[], file: string, change: (text: string) => string): FileText[] {
  let hit = false;
  const out = files.map((f) => {
    if (f.file !== file) return f;
    const text = change(f.text);
    if (text === f.text) throw new Error(`edit of ${file} changed nothing`);
    hit = true;
    return { ...f, text };
  });
  if (!hit) throw new Error(`no file ${file}`);
  return out;
}

export async function repoConfig(): Promise<Config> {
  const result = loadConfig(await repoFiles());
  if (!result.ok) throw new Error(`repository config is invalid:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
}

/** Fixed inputs for renders whose bytes are compared with golden files. */
export const FIXED_CONTEXT: RenderContext = {
  home: '/home/operator',
  proxyPrograms: {
    gemini: '// gemini proxy program (fixture)\n',
    mistral: '// mistral proxy program (fixture)\n',
    kimi: '// kimi proxy program (fixture)\n',
  },
};
