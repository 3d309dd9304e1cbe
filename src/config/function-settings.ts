import { posix } from 'node:path';
import { formatKeyPath, type Problem } from './problem.js';
import type { FileText } from './source.js';
import { parseToml, tomlPathKey, type TomlTable, type TomlValue } from './toml.js';

/** The Supabase CLI's project file: `supabase functions serve` and `deploy` read it, and so does clawops. */
export const SUPABASE_CONFIG_FILE = 'supabase/config.toml';
/** Paths in it are relative to its folder (the CLI joins them to supabase/). */
const SUPABASE_DIR = 'supabase';

/** The edge function's settings, as the `[functions.<slug>]` table of supabase/config.toml declares them. */
export interface FunctionSettings {
  /** Whether Supabase checks the caller's JWT before the function runs (`verify_jwt`; the CLI's default is true). */
  verifyJwt: boolean;
  /** The file Supabase runs, relative to the function's source folder (`entrypoint`; default functions/<slug>/index.ts). */
  entrypoint: string;
  /** The import map or deno.json, relative to the source folder (`import_map`), when one is declared. */
  importMap?: string;
}

/** The keys the CLI accepts in a `[functions.<slug>]` table (its config.go `function` struct); it refuses any other. */
const KNOWN_KEYS = ['enabled', 'verify_jwt', 'import_map', 'entrypoint', 'static_files'];

/**
 * Reads the function's settings from supabase/config.toml. `source` is the function's folder in
 * the repository (config/supabase.yaml function.source); the entrypoint and import map must lie
 * in it, since that folder is what clawops uploads. Problems carry the file, line, column and key.
 */
export function readFunctionSettings(file: FileText | undefined, slug: string, source: string): { settings?: FunctionSettings; problems: Problem[] } {
  const at = (path: string[], message: string, pos = { line: 1, column: 1 }): Problem => ({
    file: SUPABASE_CONFIG_FILE,
    line: pos.line,
    column: pos.column,
    key: formatKeyPath(path),
    message,
  });
  if (!file) {
    return { problems: [at([], `missing file: the Supabase CLI's project file, whose [functions.${slug}] table holds the edge function's settings (verify_jwt, entrypoint)`)] };
  }
  const doc = parseToml(file.text);
  if (doc.errors.length) return { problems: doc.errors.map((e) => at([], e.message, e)) };
  const where = (path: string[]) => doc.positions.get(tomlPathKey(path)) ?? { line: 1, column: 1 };
  const problems: Problem[] = [];

  if (typeof doc.value.project_id !== 'string' || doc.value.project_id === '') {
    problems.push(at(['project_id'], 'expected a string: the Supabase CLI refuses a config.toml without project_id', where(['project_id'])));
  }
  const functions = doc.value.functions;
  const table = isTable(functions) ? functions[slug] : undefined;
  const base = ['functions', slug];
  if (!isTable(table)) {
    problems.push(at(base, `expected a [functions.${slug}] table: the function config/supabase.yaml deploys`, where(isTable(functions) ? ['functions'] : [])));
    return { problems };
  }
  for (const key of Object.keys(table)) {
    if (!KNOWN_KEYS.includes(key)) problems.push(at([...base, key], `unknown key (the Supabase CLI accepts ${KNOWN_KEYS.join(', ')})`, where([...base, key])));
  }
  const get = (key: string): TomlValue | undefined => table[key];
  const enabled = get('enabled');
  if (enabled !== undefined && enabled !== true) problems.push(at([...base, 'enabled'], 'expected true (or no key): clawops deploys this function, and the CLI skips a disabled one', where([...base, 'enabled'])));

  const verify = get('verify_jwt');
  if (verify !== undefined && typeof verify !== 'boolean') problems.push(at([...base, 'verify_jwt'], 'expected true or false', where([...base, 'verify_jwt'])));
  const verifyJwt = typeof verify === 'boolean' ? verify : true;
  if (verify === true || verify === undefined) {
    problems.push(
      at(
        verify === undefined ? base : [...base, 'verify_jwt'],
        `expected verify_jwt = false${verify === undefined ? ' (the Supabase CLI\'s default is true)' : ''}: browsers send CORS preflights without a token, and the bridge checks the caller's Supabase user itself`,
        where(verify === undefined ? base : [...base, 'verify_jwt']),
      ),
    );
  }

  const statics = get('static_files');
  if (statics !== undefined && !(Array.isArray(statics) && statics.length === 0)) {
    problems.push(at([...base, 'static_files'], 'expected no static files: clawops uploads the source folder\'s code and JSON files only', where([...base, 'static_files'])));
  }

  /** A path from config.toml as a path inside the source folder, or a problem. */
  const inSource = (key: string, fallback: string | undefined): string | undefined => {
    const raw = get(key);
    if (raw !== undefined && (typeof raw !== 'string' || raw === '')) {
      problems.push(at([...base, key], 'expected a path relative to supabase/', where([...base, key])));
      return undefined;
    }
    const written = typeof raw === 'string' ? raw : fallback;
    if (written === undefined) return undefined;
    if (posix.isAbsolute(written)) {
      problems.push(at([...base, key], 'expected a path relative to supabase/, not an absolute one', where([...base, key])));
      return undefined;
    }
    const full = posix.normalize(posix.join(SUPABASE_DIR, written));
    const dir = posix.normalize(source).replace(/\/+$/, '');
    if (!full.startsWith(`${dir}/`)) {
      const what = raw === undefined ? `the Supabase CLI's default, ${full},` : full;
      problems.push(at(raw === undefined ? base : [...base, key], `${key}: ${what} is not inside ${dir}, the function's source folder (config/supabase.yaml function.source)`, where(raw === undefined ? base : [...base, key])));
      return undefined;
    }
    return full.slice(dir.length + 1);
  };
  const entrypoint = inSource('entrypoint', `functions/${slug}/index.ts`);
  if (entrypoint !== undefined && !/\.(ts|js|mjs|jsx|tsx)$/.test(entrypoint)) {
    problems.push(at([...base, 'entrypoint'], 'expected a .ts, .js, .mjs, .jsx or .tsx file (the Supabase CLI\'s supported entrypoints)', where([...base, 'entrypoint'])));
  }
  const importMap = inSource('import_map', undefined);
  if (problems.length || entrypoint === undefined) return { problems };
  return { settings: { verifyJwt, entrypoint, ...(importMap !== undefined ? { importMap } : {}) }, problems };
}

const isTable = (v: TomlValue | undefined): v is TomlTable => typeof v === 'object' && v !== null && !Array.isArray(v);
