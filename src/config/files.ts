import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { FileText } from './source.js';

/**
 * Reads every config file under `root/config` as text. This is the only place config touches the
 * file system; parsing and validation are pure.
 */
export async function readConfigFiles(root: string): Promise<FileText[]> {
  const dir = join(root, 'config');
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (/\.(ya?ml|json)$/.test(entry.name)) files.push(p);
    }
  };
  await walk(dir);
  files.sort();
  return Promise.all(
    files.map(async (p) => ({ file: relative(root, p).split('\\').join('/'), text: await readFile(p, 'utf8') })),
  );
}
