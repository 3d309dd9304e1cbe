import { createPrivateKey, hkdfSync } from 'node:crypto';
import { plaintextRefusal } from '../../supabase/functions/openclaw-bridge/gateway-url.js';
import { publicGatewayUrl } from '../config/gateway-url.js';
import { DEEP_AUDIT_ARGS, hostOpenclawCommand } from '../render/host-openclaw.js';
import { GatewayClient, GatewayClientError } from '../smoke/gateway-client.js';
import { formatCheck, runSmoke, SMOKE_SCOPES, type SmokeResult } from '../smoke/smoke.js';
import { chainProbePlan, chainReport, healthOfRuns, nextHealth, parseHealth, type ChainHealth, type ChainReport, type ProbeAnswer } from '../smoke/chain.js';
import { chainProbeCommand, chainProbeInput, parseInstalledProbe } from '../smoke/chain-program.js';
import { FACTS_PROGRAM_NAME } from '../render/facts-access.js';
import { renderChainTable } from '../report/chain.js';
import { HostError, type Transport } from '../transport/transport.js';
import type { Deployment } from './deploy.js';
import type { Output } from './output.js';

/** Where the smoke reaches the environment from here, or why it cannot. */
export function smokeReach(d: Deployment): { gatewayUrl: string } | { skip: string } | { refuse: string } {
  const env = d.config.environments.find((e) => e.name === d.envName)!;
  const url = publicGatewayUrl(env);
  if (url) {
    const refused = plaintextRefusal(url, env.test === true);
    return refused ? { refuse: `${d.envName}'s gateway.publicUrl: ${refused}` } : { gatewayUrl: url };
  }
  if (env.target.kind === 'local') return { gatewayUrl: `http://127.0.0.1:${d.config.deployment.gateway.port}` };
  return { skip: `${d.envName} has no gateway.publicUrl that this machine can reach` };
}

/**
 * The smoke's own device identity: an Ed25519 key derived from the gateway token, so that it is the
 * same on every run (paired once) and needs no secret of its own. Not the bridge's key: the gateway
 * pins a device to the platform it paired from, and the bridge connects from Deno.
 */
export function smokeDeviceKey(token: string): string {
  const seed = Buffer.from(hkdfSync('sha256', token, 'clawops', 'smoke device identity', 32));
  // PKCS#8 for Ed25519: a fixed 16-byte header, then the 32-byte seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * A gateway pairs devices that connect from its own loopback silently, and holds others until an
 * operator approves them. clawops reaches a systemd host over SSH, which is that operator's
 * authority: when the gateway holds the smoke's device, approve exactly its request there, with
 * the host's own OpenClaw CLI as the gateway's user.
 */
async function pairSmokeDevice(d: Deployment, t: Transport, gatewayUrl: string, token: string, deviceKeyPem: string, output: Output): Promise<void> {
  if (!hostOpenclawCommand(d.desired, [])) return;
  let requestId: string | undefined;
  try {
    (await GatewayClient.open({ url: gatewayUrl, token, deviceKeyPem, connectTimeoutMs: 15_000, scopes: [...SMOKE_SCOPES] })).close();
    return;
  } catch (e) {
    // Anything else is for the health check to report.
    if (!(e instanceof GatewayClientError) || !e.pairingRequestId) return;
    requestId = e.pairingRequestId;
  }
  const r = await t.run(hostOpenclawCommand(d.desired, ['devices', 'approve', requestId])!, { timeoutMs: 120_000 });
  const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' | ');
  output.out(
    r.code === 0
      ? `Paired the smoke's device with the gateway (request ${requestId}).`
      : `Could not pair the smoke's device with the gateway (request ${requestId}): exit ${r.code}: ${token ? said.split(token).join('***') : said}`,
  );
}

/**
 * The deep security audit on the host: the release's OpenClaw reads the config the gateway runs and
 * probes the live gateway (`openclaw security audit --deep --json`). Its JSON, or a HostError that
 * says how it ended and nothing it printed: its output may quote the config.
 */
export async function hostDeepAudit(d: Deployment, t: Transport): Promise<string> {
  const command = hostOpenclawCommand(d.desired, DEEP_AUDIT_ARGS);
  if (!command) throw new HostError(t.target, 'security audit --deep', 'clawops does not install OpenClaw on this host');
  const r = await t.run(command, { timeoutMs: 300_000 });
  // The audit exits non-zero when it has findings; its JSON is the verdict either way.
  if (!r.stdout.trim().startsWith('{')) throw new HostError(t.target, 'security audit --deep', `exit ${r.code}, and no JSON report`);
  return r.stdout;
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
export async function runSmokeChecks(d: Deployment, t: Transport, output: Output, processEnv: NodeJS.ProcessEnv): Promise<SmokeResult | { skipped: string } | { refused: string }> {
  const reach = smokeReach(d);
  if ('skip' in reach) return { skipped: reach.skip };
  if ('refuse' in reach) return { refused: reach.refuse };
  const sb = d.config.supabase?.environment === d.envName ? d.config.supabase : undefined;
  const tokenName = d.config.deployment.gateway.auth.token.secret;
  // Secrets the host reads itself are not here: the checks talk to the gateway with its token.
  if (d.hostSecrets && d.secrets(tokenName) === undefined) return { skipped: `the gateway token stays on the host (secrets: host-ssm); set ${tokenName} where clawops runs to run them` };
  const token = d.secrets(tokenName) ?? '';
  const deviceKeyPem = smokeDeviceKey(token);
  await pairSmokeDevice(d, t, reach.gatewayUrl, token, deviceKeyPem, output);
  const functionsUrl = processEnv.SUPABASE_FUNCTIONS_URL || (sb ? `https://${sb.projectRef}.supabase.co/functions/v1` : undefined);
  const canaryAgent = d.config.deployment.smoke?.canaryAgent;
  const canaryModel = canaryAgent ? d.config.deployment.agents.entries[canaryAgent]?.model : undefined;
  const env = d.config.environments.find((e) => e.name === d.envName)!;
  const keyOptional = env.secrets.source === 'dotenv' && env.secrets.missing === 'empty';
  const proxies = d.desired.units
    .filter((u) => u.kind === 'proxy')
    .map((u) => ({ name: u.proxy ?? u.name.replace(/\.service$/, ''), url: u.health.replace(/\/healthz$/, ''), ...(keyOptional ? { keyOptional } : {}) }));
  return runSmoke(
    {
      gatewayUrl: reach.gatewayUrl,
      ...(env.gateway.tls && /^(https|wss):/.test(reach.gatewayUrl) ? { certificateWarnDays: env.gateway.tls.expiryWarningDays } : {}),
      token,
      deviceKeyPem,
      proxies,
      ...(sb && functionsUrl ? { bridgeUrl: `${functionsUrl}/${sb.function.name}` } : {}),
      // A Supabase user's access token for the bridge checks (a dedicated smoke user).
      ...(processEnv.CLAWOPS_SMOKE_USER_TOKEN ? { bridgeUserToken: processEnv.CLAWOPS_SMOKE_USER_TOKEN } : {}),
      ...(canaryAgent && canaryModel ? { fallback: { agentId: canaryAgent, canaryModel } } : {}),
      chain: d.config.chain,
      // The host's own deep audit, with the release's OpenClaw (a systemd host clawops installs it on).
      ...(hostOpenclawCommand(d.desired, []) ? { deepAudit: { run: () => hostDeepAudit(d, t), accept: env.security?.accept ?? [] } } : {}),
      // A deployment without a single key for its chain (a local one, before .env is filled in) has
      // nothing that could answer: the check says so rather than waiting out every step.
      ...(d.config.chain.some((step) => d.secrets(d.config.providers.find((p) => p.id === step.split('/')[0])?.apiKeySecret ?? ''))
        ? {}
        : { fallbackSkip: 'no provider of the chain has its API key here' }),
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
    if ('refused' in result) {
      output.err(`error: refusing to run the smoke checks: ${result.refused}`);
      return 1;
    }
    const failed = result.checks.filter((c) => !c.ok && !c.skipped).length;
    output.out(failed ? `Smoke: ${failed} of ${result.checks.length} checks failed.` : `Smoke: all ${result.checks.filter((c) => !c.skipped).length} checks passed.`);
    return result.ok ? 0 : 1;
  } finally {
    await t.close();
  }
}

/** Where the scheduled chain report remembers the previous run, on the host beside the releases (a host without a read-only user). */
export const chainHealthPath = (d: Deployment) => `${d.desired.host.clawopsDir}/chain-health.json`;

/**
 * Whether the chain is probed as the read-only facts user: where the environment has one, its login
 * runs the probe apply installed (`clawops-facts --chain`), as plans and drift read facts with it.
 */
export const chainAsFactsUser = (d: Deployment) => d.factsUser !== null && d.desired.host.facts !== undefined;

/** The connection the chain report runs on: the read-only user's where there is one, else the deploying user's. */
export const chainConnect = (d: Deployment) => d.connect({ readOnly: chainAsFactsUser(d) });

/**
 * The chain report: every chain step probed from the host in one round trip, then classified here.
 *
 * As the read-only user, the installed probe runs with the plan apply installed, and returns the
 * earlier runs it kept; the health is counted from those, and nothing is written from here. Else
 * the probe program goes with the plan on stdin, as the deploying user; with `record`, the
 * previous run's health is read alongside on the same connection and this run's written back
 * after, for the consecutive-failure rule.
 */
export async function runChainReport(d: Deployment, t: Transport, opts: { record?: boolean } = {}): Promise<{ report: ChainReport; health?: ChainHealth }> {
  const plan = chainProbePlan(d.config, d.desired, d.envName);
  // Up to twelve requests' bounds (the installed plan has the same bound: it is rendered as this one is).
  const timeoutMs = plan.timeoutMs * 12 + 30_000;
  if (chainAsFactsUser(d)) {
    const r = await t.run([FACTS_PROGRAM_NAME, '--chain'], { timeoutMs });
    // A host last applied by a clawops without the probe: its facts program does not know the word.
    if (r.code !== 0 && /unknown argument --chain|runs no chain probe/.test(r.stderr)) throw new HostError(t.target, 'chain probe', `the read-only user's program has no chain probe yet: an apply installs it (${r.stderr.trim().split('\n').at(-1)})`);
    if (r.code !== 0) throw new HostError(t.target, 'chain probe', `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
    const out = parseInstalledProbe(r.stdout);
    if (!out) throw new HostError(t.target, 'chain probe', 'the probe printed no report');
    // The host's own plan names the steps: the chain as it was applied, whatever this checkout says.
    const report = chainReport(d.envName, out.at, out, out.answers);
    return opts.record ? { report, health: healthOfRuns(d.envName, out.previous, report) } : { report };
  }
  // The local environment runs on this machine's Node; a systemd host on the pinned one.
  const node = d.desired.host.runtime?.node.bin ?? process.execPath;
  const statePath = chainHealthPath(d);
  const probe = chainProbeCommand(node, d.desired.services === 'systemd' ? d.desired.host.user : undefined);
  const at = new Date().toISOString();
  const [r, previous] = await Promise.all([
    t.run(probe, { stdin: chainProbeInput(plan), timeoutMs }),
    opts.record ? t.run(['cat', statePath]).then((x) => (x.code === 0 ? x.stdout : null)) : Promise.resolve(null),
  ]);
  if (r.code !== 0) throw new HostError(t.target, 'chain probe', `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
  let answers: ProbeAnswer[];
  try {
    answers = (JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { answers: ProbeAnswer[] }).answers;
  } catch {
    throw new HostError(t.target, 'chain probe', 'the probe printed no report');
  }
  const report = chainReport(d.envName, at, plan, answers);
  if (!opts.record) return { report };
  const health = nextHealth(parseHealth(previous), report);
  const w = await t.run(['bash', '-c', 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.new" && mv "$1.new" "$1"', 'record', statePath], { stdin: `${JSON.stringify(health, null, 2)}\n` });
  if (w.code !== 0) throw new HostError(t.target, 'chain record', `cannot write ${statePath}: ${w.stderr.trim() || `exit ${w.code}`}`);
  return { report, health };
}

/** `clawops smoke --chain`: the chain report as a table (or JSON); exit 0 when every step answers, else 1. */
export async function chainCommand(d: Deployment, output: Output, opts: { json: boolean }): Promise<number> {
  const t = await chainConnect(d);
  try {
    const { report } = await runChainReport(d, t);
    output.out(opts.json ? JSON.stringify(report, null, 2) : renderChainTable(report));
    return report.steps.every((s) => s.state === 'ok') ? 0 : 1;
  } finally {
    await t.close();
  }
}
