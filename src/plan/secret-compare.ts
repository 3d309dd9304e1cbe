import type { DesiredFile } from '../render/desired.js';
import { keyedFileDigest, recordDigest, sha256 } from './digest.js';
import type { FileFact, ReleaseRecord } from './facts.js';
import type { Environment } from '../schema/environment.js';
import type { Plan } from './model.js';

/**
 * For secrets the host reads itself (`host-ssm`): the parameter prefix, and the current version of
 * each secret's parameter (DescribeParameters: metadata, never a value), by secret name; a secret
 * whose parameter does not exist is absent. null: the versions could not be read here.
 */
export interface HostSecretVersions {
  prefix: string;
  versions: Record<string, number> | null;
}

/** How a file holding secrets compares with the host: what differs, or why it cannot be told (the plan's reason). */
export type SecretFileComparison = { differs: string[] } | { unknown: string };

export const parameterName = (prefix: string, secret: string) => `${prefix.replace(/\/+$/, '')}/${secret}`;

/**
 * One seam per kind of secret source. Sources whose values are at hand compare the file as it
 * would be written (`content`, undefined when values are missing); secrets the host reads itself
 * compare by name and parameter version against what the live release recorded, with no value.
 */
export function compareSecretFile(
  f: DesiredFile,
  fact: FileFact,
  rec: ReleaseRecord['files'][string] | undefined,
  opts: { content: string | undefined; host?: HostSecretVersions; key: string | null },
): SecretFileComparison {
  if (opts.host) return compareByVersion(f, fact, rec, opts.host, opts.key);
  const onHost = keyedFileDigest(fact.sha256, opts.key);
  if (opts.content !== undefined && opts.key !== null) return { differs: recordDigest(sha256(opts.content), true, opts.key) !== onHost ? ['content differs'] : [] };
  if (opts.content !== undefined && onHost === null) return { differs: sha256(opts.content) !== fact.sha256 ? ['content differs'] : [] };
  // Without the values, or without the key the host keyed its digest with (the read-only user's
  // plan), the values cannot be compared; a file that is no longer what the live release wrote
  // was still changed on the host, and apply rewrites it.
  if (rec && onHost !== rec.digest) return { differs: ['content differs'] };
  return { unknown: opts.content === undefined ? 'compared at apply: its secret values are not available to this plan' : 'compared at apply: this plan has no digest key to compare its values with' };
}

function compareByVersion(f: DesiredFile, fact: FileFact, rec: ReleaseRecord['files'][string] | undefined, host: HostSecretVersions, key: string | null): SecretFileComparison {
  if (!rec?.parameters) return { differs: ['its secrets are to be read on the host from Parameter Store'] };
  const differs: string[] = [];
  if (rec.template !== sha256(f.content)) differs.push('variables changed');
  if (keyedFileDigest(fact.sha256, key) !== rec.digest) differs.push('content differs');
  if (!host.versions) return differs.length ? { differs } : { unknown: 'not compared: parameter versions unavailable' };
  for (const secret of [...new Set(Object.values(f.secrets ?? {}))].sort()) {
    const name = parameterName(host.prefix, secret);
    const now = host.versions[secret];
    const was = rec.parameters[name];
    if (now === undefined) differs.push(`parameter ${name} not found`);
    else if (was === undefined) differs.push(`parameter ${name} version ${now} added`);
    else if (was !== now) differs.push(`rotated: parameter ${name} version ${was} → ${now}`);
  }
  return { differs };
}

/** What a saved plan pins of the secrets it compared by version: the versions, keyed. */
export function hostSecretsState(files: readonly DesiredFile[], host: HostSecretVersions): Record<string, Record<string, number | null>> {
  return Object.fromEntries(
    files.filter((f) => f.secrets).map((f) => [f.path, Object.fromEntries(Object.values(f.secrets!).map((s) => [parameterName(host.prefix, s), host.versions?.[s] ?? null]))]),
  );
}


/**
 * How a secret source's values are compared with what the host has: one rule per source, the
 * seam where a source read on the host itself would say it compares otherwise.
 *
 * keyed-digest: the value reaches the machine running clawops (env, dotenv, ssm), which fills the
 * env file and compares it with the host's file by digest, keyed with the host's digest key. A plan
 * without the values (a pull request's) cannot: it shows each such file as compared at apply.
 */
export type SecretComparison = 'keyed-digest' | 'parameter-version';

export function secretComparison(source: Environment['secrets']['source']): SecretComparison {
  switch (source) {
    case 'env':
    case 'dotenv':
    case 'ssm':
      return 'keyed-digest';
    // parameter-version: the host reads the values itself (host-ssm); a plan compares each
    // secret's parameter name and version with what the live release recorded, never a value.
    case 'host-ssm':
      return 'parameter-version';
  }
}

/** What a plan decided for one sensitive file: its content unchanged, changed, or left to apply. */
export type SensitiveDecision = 'unchanged' | 'changes' | 'compared at apply';

/** For each sensitive file of a plan, what it decided by its source's rule (saved with the plan). */
export function sensitiveDecisions(plan: Plan): Record<string, SensitiveDecision> {
  const later = new Set(plan.uncompared);
  return Object.fromEntries(
    plan.files
      .filter((f) => f.sensitive && f.role !== 'previous-release')
      .map((f) => [f.path, later.has(f.path) ? 'compared at apply' : f.action === 'no-op' ? 'unchanged' : 'changes'] as const),
  );
}

/**
 * The files whose decision no longer holds at apply: a saved plan that showed a file unchanged
 * must not write it, nor skip one it showed changing. A file left to apply holds whatever apply finds.
 */
export function brokenDecisions(saved: Record<string, SensitiveDecision>, now: Record<string, SensitiveDecision>): string[] {
  return Object.entries(saved)
    .filter(([path, was]) => was !== 'compared at apply' && now[path] !== undefined && now[path] !== 'compared at apply' && now[path] !== was)
    .map(([path, was]) => `${path} (the plan showed it ${was === 'unchanged' ? 'unchanged' : 'changing'})`);
}
