import type { Config } from '../config/model.js';
import type { SecretLookup } from '../plan/diff.js';
import type { EdgeChange } from '../plan/model.js';
import { bridgeSecrets, deployRecord, NEXT_TOKEN_SECRET, planBridgeDeploy, SOURCE_DIGEST_SECRET, TOKEN_SECRET, type BridgeDeployPlan } from '../supabase/bridge-deploy.js';
import type { FunctionFile, SupabasePort } from '../supabase/port.js';

export interface EdgeInput {
  config: Config;
  /** null when the Supabase access token is not available here: the function is not compared. */
  port: SupabasePort | null;
  files: readonly FunctionFile[];
  secrets: SecretLookup;
}

export interface EdgePlan {
  change: EdgeChange;
  deploy?: BridgeDeployPlan;
  values?: Record<string, string>;
}

/**
 * Whether the edge function needs deploying: its source against the digest recorded at the last
 * deploy, its settings against the digests Supabase lists. No value is ever read back.
 */
export async function planEdge(input: EdgeInput): Promise<EdgePlan> {
  const sb = input.config.supabase!;
  const base = { name: sb.function.name, projectRef: sb.projectRef };
  if (!input.port) {
    return { change: { ...base, action: 'unknown', reasons: [`${sb.secrets.accessToken} has no value here`] } };
  }
  const { values, problems } = bridgeSecrets(input.config, input.secrets);
  if (problems.length) return { change: { ...base, action: 'unknown', reasons: problems } };
  const [listed, existing] = await Promise.all([input.port.listSecrets(sb.projectRef), input.port.getFunction(sb.projectRef, sb.function.name)]);
  const deploy = planBridgeDeploy({ files: input.files, secrets: values, listed, existing, verifyJwt: sb.function.verifyJwt, entrypoint: sb.function.entrypoint });
  const action = deploy.deploy ? 'deploy' : deploy.secrets.length || deploy.remove.length ? 'settings' : 'no-op';
  return {
    change: {
      ...base,
      action,
      reasons: action === 'no-op' ? ['source and settings unchanged, and as clawops last deployed it'] : deploy.reasons,
      ...(deploy.outside.length ? { outside: deploy.outside } : {}),
    },
    deploy,
    values,
  };
}

/**
 * The first step of a token rotation, before the host: the function is given the new token as its
 * next one, beside the current one it keeps presenting until the gateway refuses it. The bridge
 * then reaches the gateway before, during and after its restart with the new token. False when the
 * token does not change (or the function holds none yet): nothing to do.
 */
export async function holdNextToken(input: EdgeInput, planned: EdgePlan): Promise<boolean> {
  const sb = input.config.supabase!;
  const token = planned.values?.[TOKEN_SECRET];
  if (!input.port || !planned.deploy?.rotation || !token) return false;
  await input.port.setSecrets(sb.projectRef, { [NEXT_TOKEN_SECRET]: token });
  return true;
}

/**
 * Sets the changed settings (the new token becomes the current one), removes the next token of a
 * rotation, uploads the source when it changed, and records the source's digest
 * and the function as Supabase then reports it last, so a deploy that failed halfway is tried
 * again by the next apply.
 */
export async function applyEdge(input: EdgeInput, planned: EdgePlan): Promise<{ version?: number }> {
  const sb = input.config.supabase!;
  const { deploy, values } = planned;
  if (!input.port || !deploy || !values || planned.change.action === 'no-op' || planned.change.action === 'unknown') return {};
  if (deploy.secrets.length) {
    await input.port.setSecrets(sb.projectRef, Object.fromEntries(deploy.secrets.map((n) => [n, values[n]!])));
  }
  // Only once the current token is the new one: until then the next token is what reaches the gateway.
  if (deploy.remove.length) await input.port.deleteSecrets(sb.projectRef, deploy.remove);
  if (!deploy.deploy) return {};
  const deployed = await input.port.deployFunction({
    projectRef: sb.projectRef,
    slug: sb.function.name,
    files: [...input.files],
    // As supabase/config.toml declares them, where `supabase functions deploy` reads them too.
    entrypoint: sb.function.entrypoint,
    verifyJwt: sb.function.verifyJwt,
    ...(sb.function.importMap ? { importMapPath: sb.function.importMap } : {}),
  });
  // What Supabase reports for it now is the record later plans compare with: a redeploy or a
  // changed setting made elsewhere then shows as changed outside clawops.
  const now = await input.port.getFunction(sb.projectRef, sb.function.name);
  await input.port.setSecrets(sb.projectRef, { ...(now ? deployRecord(now) : {}), [SOURCE_DIGEST_SECRET]: deploy.sourceDigest });
  return { version: deployed.version };
}
