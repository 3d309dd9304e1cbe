import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parseEnv } from 'node:util';
import type { SecretLookup } from '../plan/diff.js';
import type { Environment } from '../schema/environment.js';

/** A secret source that could not be read: one line for the operator, no value in it. */
export class SecretSourceError extends Error {
  override name = 'SecretSourceError';
}

/**
 * Loads an environment's secret values from its source: the process environment (GitHub Actions),
 * a .env file (local), or AWS Parameter Store. Values stay in memory; inside Actions each one is
 * masked in the log before anything is printed.
 */
export async function loadSecrets(
  env: Environment,
  declared: readonly string[],
  processEnv: NodeJS.ProcessEnv,
  root: string,
  /** The secrets this environment's files are filled from: only these are written empty when missing. */
  needed: readonly string[] = declared,
  /** Where secrets that clawops generates (`generate:`) are kept on this machine. */
  generatedFile?: string,
): Promise<{ lookup: SecretLookup; warnings: string[] }> {
  let values: Record<string, string | undefined>;
  switch (env.secrets.source) {
    case 'env':
      values = Object.fromEntries(declared.map((n) => [n, processEnv[n]]));
      break;
    case 'dotenv': {
      const path = isAbsolute(env.secrets.path) ? env.secrets.path : join(root, env.secrets.path);
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch {
        text = '';
      }
      const parsed = parseEnv(text) as Record<string, string>;
      values = Object.fromEntries(declared.map((n) => [n, processEnv[n] ?? parsed[n]]));
      break;
    }
    case 'host-ssm':
      // The env files' values are read by the host itself; on this machine only what this machine
      // uses (an SSH key, a deploy token) comes from the process environment.
      values = Object.fromEntries(declared.map((n) => [n, processEnv[n]]));
      break;
    case 'ssm': {
      const { region, prefix } = env.secrets;
      const { readParameters } = await import('../secrets/ssm.js');
      let found: Record<string, string>;
      try {
        found = await readParameters({ region, prefix, names: declared });
      } catch (e) {
        throw new SecretSourceError(e instanceof Error ? e.message : String(e));
      }
      values = Object.fromEntries(declared.map((n) => [n, found[n]]));
      break;
    }
  }
  if (processEnv.GITHUB_ACTIONS === 'true') {
    const core = await import('@actions/core');
    for (const v of Object.values(values)) if (v) core.setSecret(v);
  }
  // Every secret reaches its service through an env file, one line a value: a value that spans
  // lines (a trailing newline from `echo` or a file, most often) is refused here, by name, before
  // any plan or host sees it.
  const broken = needed.filter((n) => /[\n\r\0]/.test(values[n] ?? ''));
  if (broken.length) {
    throw new SecretSourceError(
      `${broken.join(', ')} from ${sourceName(env)}: ${broken.length > 1 ? 'values hold' : 'the value holds'} a line break or NUL (a trailing newline?), which an env file cannot carry; set ${broken.length > 1 ? 'them' : 'it'} again without one`,
    );
  }
  const warnings: string[] = [];
  if (env.secrets.source === 'dotenv') {
    const generate = (env.secrets.generate ?? []).filter((n) => needed.includes(n) && values[n] === undefined);
    if (generate.length && generatedFile) Object.assign(values, await generated(generatedFile, generate));
    const missing = needed.filter((n) => values[n] === undefined);
    if (env.secrets.missing === 'empty' && missing.length) {
      for (const n of missing) values[n] = '';
      // One line for all of them: which, and where to find what each is.
      warnings.push(`no value in ${env.secrets.path} for ${missing.join(', ')}: written empty, so calls that need them fail over (.env.example lists every secret)`);
    }
  }
  return { lookup: (name) => values[name], warnings };
}

function sourceName(env: Environment): string {
  switch (env.secrets.source) {
    case 'env':
      return 'the environment';
    case 'dotenv':
      return env.secrets.path;
    case 'ssm':
      return `Parameter Store (${env.secrets.prefix})`;
    case 'host-ssm':
      return 'the environment';
  }
}

/** Values clawops made itself, kept in one file (mode 0600); made once, the same on every run after. */
async function generated(file: string, names: readonly string[]): Promise<Record<string, string>> {
  let kept: Record<string, string> = {};
  try {
    kept = parseEnv(await readFile(file, 'utf8')) as Record<string, string>;
  } catch {
    kept = {};
  }
  const fresh = names.filter((n) => !kept[n]);
  if (fresh.length) {
    for (const n of fresh) kept[n] = randomBytes(24).toString('base64url');
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const text = `# Made by clawops for secrets that .env does not set; delete a line to make a new value.\n${Object.entries(kept).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
    await writeFile(file, text, { mode: 0o600 });
  }
  return Object.fromEntries(names.map((n) => [n, kept[n]!]));
}
