import { generateKeyPairSync } from 'node:crypto';
import { formatCheck, runSmoke, type SmokeResult } from '../smoke/smoke.js';
import type { Transport } from '../transport/transport.js';
import type { Deployment } from './deploy.js';
import type { Output } from './output.js';

/** Where the smoke reaches the environment from here, or why it cannot. */
export function smokeReach(d: Deployment): { gatewayUrl: string } | { skip: string } {
  const env = d.config.environments.find((e) => e.name === d.envName)!;
  if (env.gateway.publicUrl) return { gatewayUrl: env.gateway.publicUrl };
  if (env.target.kind === 'local') return { gatewayUrl: `http://127.0.0.1:${d.config.deployment.gateway.port}` };
  return { skip: `${d.envName} has no gateway.publicUrl that this machine can reach` };
}

/**
 * Fetch for the proxies' health endpoints. They listen on the host's loopback only, so on a remote
 * host the request is made there, through the transport, with curl.
 */
function proxyFetch(t: Transport): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) return fetch(input);
    const r = await t.run(['curl', '-sS', '--max-time', '5', '-w', '\n%{http_code}', url]);
    if (r.code !== 0) throw new Error(`curl on the host: ${r.stderr.trim() || `exit ${r.code}`}`);
    const cut = r.stdout.lastIndexOf('\n');
    return new Response(r.stdout.slice(0, cut), { status: Number(r.stdout.slice(cut + 1)) || 502 });
  }) as typeof fetch;
}

/**
 * The deployment checklist against a live environment: gateway health over its WebSocket with
 * token and device identity, each proxy's health, the bridge's health and a chat through it, and
 * the fallback. Each check prints its result and time as it finishes.
 */
export async function runSmokeChecks(d: Deployment, t: Transport, output: Output, processEnv: NodeJS.ProcessEnv): Promise<SmokeResult | { skipped: string }> {
  const reach = smokeReach(d);
  if ('skip' in reach) return { skipped: reach.skip };
  const sb = d.config.supabase?.environment === d.envName ? d.config.supabase : undefined;
  const token = d.secrets(d.config.deployment.gateway.auth.token.secret) ?? '';
  // The bridge's device identity when there is one (already paired on a remote gateway); else a
  // fresh one, which a gateway accepts on loopback.
  const deviceKeyPem =
    (sb && d.secrets(sb.secrets.deviceKey)) ||
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const functionsUrl = processEnv.SUPABASE_FUNCTIONS_URL || (sb ? `https://${sb.projectRef}.supabase.co/functions/v1` : undefined);
  const proxies = d.desired.units.filter((u) => u.kind === 'proxy').map((u) => ({ name: u.name.replace(/\.service$/, ''), url: u.health.replace(/\/healthz$/, '') }));
  return runSmoke(
    {
      gatewayUrl: reach.gatewayUrl,
      token,
      deviceKeyPem,
      proxies,
      ...(sb && functionsUrl ? { bridgeUrl: `${functionsUrl}/${sb.function.name}` } : {}),
      // A Supabase user's access token for the bridge checks (a dedicated smoke user).
      ...(processEnv.CLAWOPS_SMOKE_USER_TOKEN ? { bridgeUserToken: processEnv.CLAWOPS_SMOKE_USER_TOKEN } : {}),
      chain: d.config.chain,
    },
    { fetch: proxyFetch(t), onCheck: (c) => output.out(formatCheck(c)) },
  );
}

/** `clawops smoke`: exit 0 when every check passed (or was skipped for want of settings), else 1. */
export async function smokeCommand(d: Deployment, output: Output, processEnv: NodeJS.ProcessEnv): Promise<number> {
  const t = await d.connect();
  try {
    const result = await runSmokeChecks(d, t, output, processEnv);
    if ('skipped' in result) {
      output.err(`error: cannot run the smoke checks: ${result.skipped}`);
      return 1;
    }
    const failed = result.checks.filter((c) => !c.ok && !c.skipped).length;
    output.out(failed ? `Smoke: ${failed} of ${result.checks.length} checks failed.` : `Smoke: all ${result.checks.filter((c) => !c.skipped).length} checks passed.`);
    return result.ok ? 0 : 1;
  } finally {
    await t.close();
  }
}
