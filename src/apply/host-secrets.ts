import type { DesiredFile, DesiredState } from '../render/desired.js';
import type { ReleaseRecord } from '../plan/facts.js';
import type { FileChange } from '../plan/model.js';
import { sha256 } from '../plan/digest.js';
import { releasePaths } from './layout.js';

/**
 * Secrets the host reads itself at activation (`secrets.source: host-ssm`): where, with which
 * program, and with what in its environment (region; stand-in endpoints for a test environment).
 */
export interface HostSecrets {
  region: string;
  prefix: string;
  /** The bundled program (dist/host/ssm-env.mjs) the release's Node runs on the host. */
  program: string;
  /** Its environment besides AWS_REGION: AWS_ENDPOINT_URL_SSM and AWS_EC2_METADATA_SERVICE_ENDPOINT in a test environment. */
  environment: Record<string, string>;
}

/** What the host program is told to do, as JSON beside the release: names and paths, never a value. */
export interface HostSecretsSpec {
  region: string;
  prefix: string;
  /** The release record it completes with each file's digest and parameter versions. */
  record: string;
  digestKey: string;
  files: { path: string; staged: string; vars: Record<string, string> }[];
}

/** Where the program and its spec are staged in a release. */
export const hostSecretsPaths = (release: string) => ({ program: `${release}/ssm-env.mjs`, spec: `${release}/ssm-env.json` });

/**
 * The staged files of a release whose values the host reads: every env file the plan writes. One
 * the plan leaves alone keeps what the live release recorded of it (digest and versions).
 */
export function hostSecretsSpec(desired: DesiredState, plan: { files: FileChange[] }, releaseId: string, hs: Pick<HostSecrets, 'region' | 'prefix'>): HostSecretsSpec {
  const p = releasePaths(desired.host, releaseId);
  const written = new Set(plan.files.filter((f) => f.action !== 'no-op').map((f) => f.path));
  return {
    region: hs.region,
    prefix: hs.prefix,
    record: p.record,
    digestKey: p.digestKey,
    files: desired.files.filter((f) => f.secrets && written.has(f.path)).map((f) => ({ path: f.path, staged: `${p.files}/${f.name}`, vars: f.secrets! })),
  };
}

/** The record of an env file the host fills: its template now; its digest and versions from the host, or from the live release when unchanged. */
export function hostSecretRecord(f: DesiredFile, live: ReleaseRecord['files'][string] | undefined, changed: boolean): Pick<ReleaseRecord['files'][string], 'digest' | 'template' | 'parameters'> {
  if (!changed && live?.parameters) return { digest: live.digest, template: sha256(f.content), parameters: live.parameters };
  return { digest: 'pending: filled in on the host', template: sha256(f.content) };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The activation's step that reads the secrets on the host: run before any file is switched, so a
 * failed read leaves the host on the release it runs. Its error lines (parameter and cause, never
 * a value) go to the progress file as "secrets failed: …".
 */
export function readSecretsShell(nodeBin: string, release: string, hs: Pick<HostSecrets, 'region' | 'environment'>): string[] {
  const paths = hostSecretsPaths(release);
  const env = Object.entries({ AWS_REGION: hs.region, ...hs.environment }).map(([k, v]) => `${k}=${q(v)}`);
  return [
    'read_secrets() {',
    '  progress "reading secrets from Parameter Store on the host"',
    '  local out',
    `  out=$(env -i PATH=/usr/bin:/bin HOME="$HOME" ${env.join(' ')} ${q(nodeBin)} ${q(paths.program)} ${q(paths.spec)} 2>&1 >/dev/null) && return 0`,
    `  printf '%s\\n' "$out" | grep '^secrets failed: ' >> ${q(`${release}/progress`)} || progress "secrets failed: the program that reads them failed"`,
    '  return 1',
    '}',
  ];
}
