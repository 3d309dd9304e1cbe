/**
 * What deploying the edge-function bridge means, as pure functions for `clawops apply`: the
 * function's settings (its secrets) derived from config, and whether the source or any setting
 * changed since the last deploy, judged from what Supabase lists (names and SHA-256 digests)
 * without ever reading a value back.
 *
 * The deployed source is remembered as one more function secret, OPENCLAW_BRIDGE_SOURCE_DIGEST,
 * holding the digest of the uploaded files: Supabase's own bundle hash (ezbr_sha256) is of a bundle
 * built on its side and cannot be computed here.
 *
 * What Supabase reported for the function right after clawops deployed it (version, verify_jwt,
 * entrypoint_path, ezbr_sha256, status) is remembered the same way, one secret a field
 * (OPENCLAW_BRIDGE_DEPLOYED_*). None of them is secret: Supabase lists only their digests, and the
 * earlier value is found again by trying the few values a field can have (every version up to
 * well past the current one, true and false, the three statuses, the values seen now). A function
 * redeployed or reconfigured from the dashboard or the CLI then shows as changed outside clawops:
 * "version 7 → 9, verify_jwt false → true".
 */
import { createHash } from 'node:crypto';
import { ENV } from '../../supabase/functions/openclaw-bridge/settings.js';
import { publicGatewayUrl } from '../config/gateway-url.js';
import type { Config } from '../config/model.js';
import type { FunctionFile, FunctionInfo, SecretDigest } from './port.js';

export const SOURCE_DIGEST_SECRET = 'OPENCLAW_BRIDGE_SOURCE_DIGEST';
/**
 * Set only while the gateway token is rotated: the new token, beside the current one, so the bridge
 * reaches the gateway before and after it restarts with the new one. Removed at the end of the apply.
 */
export const NEXT_TOKEN_SECRET = ENV.gatewayTokenNext;
/** The function's setting that holds the gateway token it presents. */
export const TOKEN_SECRET = ENV.gatewayToken;

/** The function as Supabase reports it, field by field as the Management API names them. */
interface RecordedField {
  /** The API's name for it, as shown to a person. */
  field: 'version' | 'verify_jwt' | 'entrypoint_path' | 'ezbr_sha256' | 'status';
  secret: string;
  value(fn: FunctionInfo): string;
  /** Values it may have had, beside what it has now: the record's digest is matched against them. */
  candidates(fn: FunctionInfo): string[];
  /** How a value is shown (a bundle hash is shortened). */
  show?(value: string): string;
}

/** Tried for the recorded version: every one up to this many past the current (a function deleted and made again starts at 1). */
const VERSION_SPAN = 10_000;

export const DEPLOY_RECORD: readonly RecordedField[] = [
  {
    field: 'version',
    secret: 'OPENCLAW_BRIDGE_DEPLOYED_VERSION',
    value: (fn) => String(fn.version),
    candidates: (fn) => Array.from({ length: fn.version + VERSION_SPAN }, (_, i) => String(i + 1)),
  },
  { field: 'verify_jwt', secret: 'OPENCLAW_BRIDGE_DEPLOYED_VERIFY_JWT', value: (fn) => String(fn.verifyJwt), candidates: () => ['true', 'false'] },
  { field: 'entrypoint_path', secret: 'OPENCLAW_BRIDGE_DEPLOYED_ENTRYPOINT', value: (fn) => fn.entrypointPath ?? '(none)', candidates: () => ['(none)'] },
  {
    field: 'ezbr_sha256',
    secret: 'OPENCLAW_BRIDGE_DEPLOYED_BUNDLE',
    value: (fn) => fn.bundleHash ?? '(none)',
    candidates: () => ['(none)'],
    show: (v) => (v.length > 16 ? `${v.slice(0, 12)}…` : v),
  },
  { field: 'status', secret: 'OPENCLAW_BRIDGE_DEPLOYED_STATUS', value: (fn) => fn.status, candidates: () => ['ACTIVE', 'REMOVED', 'THROTTLED'] },
];

/** The secrets that record the function as read back right after a deploy. */
export function deployRecord(fn: FunctionInfo): Record<string, string> {
  return Object.fromEntries(DEPLOY_RECORD.map((f) => [f.secret, f.value(fn)]));
}

/**
 * How the function differs from what clawops recorded at its last deploy, in words ("version 7 →
 * 9"); null when there is no record (it was never deployed by this clawops). `also`: more values a
 * field may have had, such as the entrypoint clawops sends.
 */
export function changedOutside(fn: FunctionInfo, listed: readonly SecretDigest[], also: readonly string[] = []): string[] | null {
  const digests = new Map(listed.map((s) => [s.name, s.digest]));
  if (!DEPLOY_RECORD.every((f) => digests.has(f.secret))) return null;
  const changes: string[] = [];
  for (const f of DEPLOY_RECORD) {
    const now = f.value(fn);
    const recorded = digests.get(f.secret)!;
    if (recorded === secretDigest(now)) continue;
    const show = f.show ?? ((v: string) => v);
    const was = [...f.candidates(fn), ...also].find((v) => secretDigest(v) === recorded);
    changes.push(was === undefined ? `${f.field} changed (now ${show(now)})` : `${f.field} ${show(was)} → ${show(now)}`);
  }
  return changes;
}

/** The digest Supabase lists for a secret value: hex SHA-256. */
export const secretDigest = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** One digest of the function's files: names and contents, in name order. */
export function sourceDigest(files: readonly FunctionFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(f.name, 'utf8').update('\0').update(f.content).update('\0');
  }
  return h.digest('hex');
}

/**
 * The bridge's environment as function secrets: where the gateway is (the fronted environment's
 * gateway.publicUrl), the token and device key (from the secret source), CORS origins, timeout and
 * the agent web users talk to.
 * SUPABASE_URL and SUPABASE_ANON_KEY are Supabase's own and are not set here.
 */
export function bridgeSecrets(config: Config, lookup: (name: string) => string | undefined): { values: Record<string, string>; problems: string[] } {
  const sb = config.supabase;
  if (!sb) return { values: {}, problems: ['config/supabase.yaml is missing: the deployment has no bridge'] };
  const problems: string[] = [];
  const env = config.environments.find((e) => e.name === sb.environment);
  const url = env ? publicGatewayUrl(env) : undefined;
  if (!env) problems.push(`config/supabase.yaml: environment ${sb.environment} does not exist`);
  else if (!url) problems.push(`config/environments/${env.name}.yaml: gateway.publicUrl is needed by the bridge`);
  const secret = (name: string) => {
    const v = lookup(name);
    if (!v) problems.push(`${name} has no value`);
    return v ?? '';
  };
  const values: Record<string, string> = {
    [ENV.gatewayUrl]: url ?? '',
    [ENV.gatewayToken]: secret(sb.secrets.gatewayToken),
    [ENV.deviceKey]: secret(sb.secrets.deviceKey),
    [ENV.corsOrigins]: sb.cors.origins.join(','),
    [ENV.timeoutSeconds]: String(sb.timeouts.requestSeconds),
    [ENV.agentId]: sb.agent,
    // A test environment's gateway may be plaintext off loopback; the bridge refuses it anywhere else.
    ...(env?.test ? { [ENV.allowPlaintext]: '1' } : {}),
  };
  return { values, problems };
}

export interface BridgeDeployPlan {
  /** Upload the files (a new function version). */
  deploy: boolean;
  /** Names of the settings to set before deploying (their values changed or they are new). */
  secrets: string[];
  /**
   * The source's digest: once the upload succeeded, set it as SOURCE_DIGEST_SECRET, so the next
   * apply sees the source unchanged (set last: a failed deploy is then retried).
   */
  sourceDigest: string;
  /** Why, in words: names only. */
  reasons: string[];
  /** What changed since clawops's last deploy without clawops ("version 7 → 9"). */
  outside: string[];
  /** Names of settings to remove: the next token of a rotation that is over or was left unfinished. */
  remove: string[];
  /**
   * The gateway token changes from one the function holds: before the gateway restarts with it, the
   * function is given it as the next token (NEXT_TOKEN_SECRET).
   */
  rotation: boolean;
}

/**
 * Compares what should be deployed with what Supabase lists and reports. `existing`: the function
 * as Supabase reports it, or null when there is none; `verifyJwt` and `entrypoint`: what
 * supabase/config.toml says.
 */
export function planBridgeDeploy(input: {
  files: readonly FunctionFile[];
  secrets: Record<string, string>;
  listed: readonly SecretDigest[];
  existing: FunctionInfo | null;
  verifyJwt: boolean;
  entrypoint: string;
}): BridgeDeployPlan {
  const listed = new Map(input.listed.map((s) => [s.name, s.digest]));
  const reasons: string[] = [];
  const digest = sourceDigest(input.files);
  let deploy = false;
  let outside: string[] = [];
  if (!input.existing) {
    deploy = true;
    reasons.push('the function is not deployed');
  } else {
    const changed = changedOutside(input.existing, input.listed, [input.entrypoint]);
    if (changed === null) {
      deploy = true;
      reasons.push('clawops has no record of deploying it');
    } else if (changed.length) {
      deploy = true;
      outside = changed;
      reasons.push(`changed outside clawops: ${changed.join(', ')}`);
    }
    if (input.existing.verifyJwt !== input.verifyJwt && !changed?.some((c) => c.startsWith('verify_jwt '))) {
      deploy = true;
      reasons.push(`verify_jwt is ${input.existing.verifyJwt}, supabase/config.toml says ${input.verifyJwt}`);
    }
    if (listed.get(SOURCE_DIGEST_SECRET) !== secretDigest(digest)) {
      deploy = true;
      reasons.push('the function\'s source changed');
    }
  }
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(input.secrets).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const was = listed.get(name);
    if (was === secretDigest(value)) continue;
    secrets.push(name);
    reasons.push(was === undefined ? `secret ${name} is new` : `secret ${name} changed`);
  }
  const token = input.secrets[ENV.gatewayToken];
  const heldToken = listed.get(ENV.gatewayToken);
  const rotation = token !== undefined && heldToken !== undefined && heldToken !== secretDigest(token);
  if (rotation) reasons.push('the gateway token is rotated: the function holds both tokens while the gateway restarts');
  const remove: string[] = [];
  if (listed.has(NEXT_TOKEN_SECRET)) {
    remove.push(NEXT_TOKEN_SECRET);
    if (!rotation) reasons.push(`secret ${NEXT_TOKEN_SECRET} is left from an unfinished rotation`);
  }
  return { deploy, secrets, sourceDigest: digest, reasons, outside, remove, rotation };
}
