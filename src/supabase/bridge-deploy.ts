/**
 * What deploying the edge-function bridge means, as pure functions for `clawops apply`: the
 * function's settings (its secrets) derived from config, and whether the source or any setting
 * changed since the last deploy, judged from what Supabase lists (names and SHA-256 digests)
 * without ever reading a value back.
 *
 * The deployed source is remembered as one more function secret, OPENCLAW_BRIDGE_SOURCE_DIGEST,
 * holding the digest of the uploaded files: Supabase's own bundle hash (ezbr_sha256) is of a bundle
 * built on its side and cannot be computed here.
 */
import { createHash } from 'node:crypto';
import { ENV } from '../../bridge/openclaw-bridge/settings.js';
import type { Config } from '../config/model.js';
import type { FunctionFile, SecretDigest } from './port.js';

export const SOURCE_DIGEST_SECRET = 'OPENCLAW_BRIDGE_SOURCE_DIGEST';
export const BRIDGE_ENTRYPOINT = 'index.ts';

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
  const url = env?.gateway.publicUrl;
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
}

/** Compares what should be deployed with what Supabase lists. `exists`: whether the function is there at all. */
export function planBridgeDeploy(input: {
  files: readonly FunctionFile[];
  secrets: Record<string, string>;
  listed: readonly SecretDigest[];
  exists: boolean;
}): BridgeDeployPlan {
  const listed = new Map(input.listed.map((s) => [s.name, s.digest]));
  const reasons: string[] = [];
  const digest = sourceDigest(input.files);
  let deploy = false;
  if (!input.exists) {
    deploy = true;
    reasons.push('the function is not deployed');
  } else if (listed.get(SOURCE_DIGEST_SECRET) !== secretDigest(digest)) {
    deploy = true;
    reasons.push('the function\'s source changed');
  }
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(input.secrets).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const was = listed.get(name);
    if (was === secretDigest(value)) continue;
    secrets.push(name);
    reasons.push(was === undefined ? `secret ${name} is new` : `secret ${name} changed`);
  }
  return { deploy, secrets, sourceDigest: digest, reasons };
}
