import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
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
  const warnings: string[] = [];
  if (env.secrets.source === 'dotenv' && env.secrets.missing === 'empty') {
    for (const n of needed) {
      if (values[n] === undefined) {
        values[n] = '';
        warnings.push(`${n} has no value in ${env.secrets.path}: it is written empty`);
      }
    }
  }
  return { lookup: (name) => values[name], warnings };
}
