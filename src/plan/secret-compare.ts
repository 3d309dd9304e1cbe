import type { DesiredFile } from '../render/desired.js';
import { recordDigest, sha256 } from './digest.js';
import type { FileFact, ReleaseRecord } from './facts.js';

/**
 * For secrets the host reads itself (`host-ssm`): the parameter prefix, and the current version of
 * each secret's parameter (DescribeParameters: metadata, never a value), by secret name; a secret
 * whose parameter does not exist is absent. null: the versions could not be read here.
 */
export interface HostSecretVersions {
  prefix: string;
  versions: Record<string, number> | null;
}

/** How a file holding secrets compares with the host: what differs, or why it cannot be told. */
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
  opts: { content: string | undefined; host?: HostSecretVersions; key: string },
): SecretFileComparison {
  if (opts.host) return compareByVersion(f, fact, rec, opts.host, opts.key);
  if (opts.content === undefined) return { unknown: 'secret values unavailable' };
  return { differs: sha256(opts.content) !== fact.sha256 ? ['content differs'] : [] };
}

function compareByVersion(f: DesiredFile, fact: FileFact, rec: ReleaseRecord['files'][string] | undefined, host: HostSecretVersions, key: string): SecretFileComparison {
  if (!rec?.parameters) return { differs: ['its secrets are to be read on the host from Parameter Store'] };
  const differs: string[] = [];
  if (rec.template !== sha256(f.content)) differs.push('variables changed');
  if (recordDigest(fact.sha256, true, key) !== rec.digest) differs.push('content differs');
  if (!host.versions) return differs.length ? { differs } : { unknown: 'parameter versions unavailable' };
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
