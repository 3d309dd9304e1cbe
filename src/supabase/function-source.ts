import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { FunctionFile } from './port.js';

/**
 * The files of a function folder as they are uploaded: every .ts, .js, .mjs and .json file, by its
 * path inside the folder, in name order (so the source digest is stable).
 */
export async function readFunctionFiles(dir: string): Promise<FunctionFile[]> {
  const names: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (/\.(ts|js|mjs|json)$/.test(entry.name) && !/\.test\.[a-z]+$/.test(entry.name)) names.push(relative(dir, p).split('\\').join('/'));
    }
  };
  await walk(dir);
  names.sort();
  return Promise.all(names.map(async (name) => ({ name, content: await readFile(join(dir, name), 'utf8') })));
}
