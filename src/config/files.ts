import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SUPABASE_CONFIG_FILE } from './function-settings.js';
import type { FileText } from './source.js';

/**
 * Reads every config file under `root/config` as text, and the Supabase CLI's supabase/config.toml
 * when there is one (the edge function's settings). This is the only place config touches the
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
  const read = await Promise.all(
    files.map(async (p) => ({ file: relative(root, p).split('\\').join('/'), text: await readFile(p, 'utf8') })),
  );
  try {
    read.push({ file: SUPABASE_CONFIG_FILE, text: await readFile(join(root, SUPABASE_CONFIG_FILE), 'utf8') });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return read;
}
