/**
 * `clawops smoke --env NAME`: checks a running deployment from the outside, as its users reach it.
 *
 * - gateway health over its WebSocket, with the token and a device identity;
 * - each proxy's /healthz (status ok, and it holds its upstream key);
 * - the bridge's health, with a Supabase user token;
 * - a chat round trip through the bridge: the reply streams and ends with a final event; the check
 *   names the model that answered and any fallback it took;
 * - the fallback chain really falls back. A live deployment cannot be made to fail for its users,
 *   so the check talks to a canary agent instead: an agent whose primary model is a canary that
 *   always fails (a provider entry with a deliberately invalid key, answered 401 at once) and whose
 *   fallbacks are the real chain, as clawops renders any agent with its own model. The check passes
 *   when the run reports the canary, then a step down the chain, and the answer comes from a chain
 *   model. Without a canary configured, the check is reported as skipped.
 *
 * Each check has a name, a result, its time and a detail line; the run fails when any check fails.
 * Network access is injectable (`fetch`), so the proxies of a remote host can be probed through
 * the host's own transport.
 */
import { GatewayClient, GatewayClientError, type ChatResult } from './gateway-client.js';

export interface SmokeTarget {
  /** The gateway as clients reach it: ws(s):// or http(s)://. */
  gatewayUrl: string;
  token: string;
  /** The device identity the smoke presents (PKCS#8 PEM, Ed25519). */
  deviceKeyPem: string;
  /** Each proxy's base URL, such as http://127.0.0.1:18790. */
  /** keyOptional: the environment writes a missing key empty on purpose (the local one), so a proxy without one passes. */
  proxies: { name: string; url: string; keyOptional?: boolean }[];
  /** The bridge's base URL up to the function, such as https://REF.supabase.co/functions/v1/openclaw-bridge. */
  bridgeUrl?: string;
  /** A Supabase user access token for the bridge checks. */
  bridgeUserToken?: string;
  /** The canary agent for the fallback check; its primary model is `canaryModel`. */
  fallback?: { agentId: string; canaryModel: string };
  /** The fallback chain, primary first: an answering model must be one of these. */
  chain?: string[];
  /** Per check. Default 120 s (a first chat prepares the agent's workspace). */
  timeoutMs?: number;
}

export interface SmokeCheck {
  name: string;
  ok: boolean;
  /** Not run (for want of settings); does not fail the run. */
  skipped?: boolean;
  ms: number;
  detail: string;
}

export interface SmokeResult {
  ok: boolean;
  checks: SmokeCheck[];
}

export interface SmokeDeps {
  fetch?: typeof fetch;
  /** Called as each check finishes, so the CLI can print it at once. */
  onCheck?: (check: SmokeCheck) => void;
  /** Distinguishes this run's sessions from earlier runs'. */
  runId?: string;
}

class CheckFailed extends Error {}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const modelRef = (m: { provider: string; model: string } | null) => (m ? `${m.provider}/${m.model}` : 'no model reported');

/**
 * Waits until the gateway runs the config file it has on disk: right after an apply, a hot reload
 * may still be under way, and a chat started meanwhile fails. OpenClaw's own CLI waits the same way.
 */
async function configApplied(g: GatewayClient, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const c = await g.request('config.get', {});
    const onDisk = isRecord(c) ? c.configRevisionHash : undefined;
    const applied = isRecord(c) ? c.appliedConfigHash : undefined;
    if (typeof onDisk !== 'string' || onDisk === applied) return;
    if (Date.now() >= deadline) throw new CheckFailed(`the gateway has not applied its config file within ${Math.round(withinMs / 1000)} s (a hot reload that failed?)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One line per check: `✔ name (123 ms): detail`. */
export function formatCheck(c: SmokeCheck): string {
  return `${c.skipped ? '-' : c.ok ? '✔' : '✘'} ${c.name} (${c.ms} ms): ${c.detail}`;
}

export async function runSmoke(target: SmokeTarget, deps: SmokeDeps = {}): Promise<SmokeResult> {
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const timeoutMs = target.timeoutMs ?? 120_000;
  const runId = deps.runId ?? Date.now().toString(36);
  const secrets = [target.token, target.bridgeUserToken ?? ''].filter((s) => s.length >= 4);
  const clean = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const checks: SmokeCheck[] = [];

  const check = async (name: string, body: () => Promise<string>, skip?: string) => {
    const started = Date.now();
    let c: SmokeCheck;
    if (skip) c = { name, ok: true, skipped: true, ms: 0, detail: `skipped: ${skip}` };
    else {
      try {
        c = { name, ok: true, ms: 0, detail: await body() };
      } catch (err) {
        c = { name, ok: false, ms: 0, detail: clean(err instanceof Error ? err.message : String(err)) };
      }
      c.ms = Date.now() - started;
    }
    checks.push(c);
    deps.onCheck?.(c);
  };

  const withGateway = async <T>(fn: (g: GatewayClient) => Promise<T>): Promise<T> => {
    const g = await GatewayClient.open({ url: target.gatewayUrl, token: target.token, deviceKeyPem: target.deviceKeyPem, connectTimeoutMs: Math.min(timeoutMs, 15_000) });
    try {
      return await fn(g);
    } finally {
      g.close();
    }
  };

  await check('gateway health (WebSocket)', () =>
    withGateway(async (g) => {
      const h = await g.request('health', {});
      if (!isRecord(h) || h.ok !== true) throw new CheckFailed('the gateway reports it is not healthy');
      const server = isRecord(g.hello.server) ? g.hello.server : {};
      await configApplied(g, Math.min(timeoutMs, 30_000));
      return `ok, OpenClaw ${String(server.version ?? '?')}, running the config on disk, health probe ${String(h.durationMs ?? '?')} ms`;
    }),
  );

  for (const p of target.proxies) {
    await check(`proxy ${p.name} /healthz`, async () => {
      const res = await fetchFn(`${p.url.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(Math.min(timeoutMs, 10_000)) });
      const body = (await res.json().catch(() => null)) as unknown;
      if (res.status !== 200 || !isRecord(body)) throw new CheckFailed(`answered ${res.status}`);
      if (body.status !== 'ok') throw new CheckFailed(`status ${String(body.status)}`);
      if (body.upstreamKey !== true) {
        if (!p.keyOptional) throw new CheckFailed('the proxy holds no upstream API key');
        return `ok, ${String(body.kind)}, ${String(body.models)} model(s); no upstream API key, so its calls fail over`;
      }
      return `ok, ${String(body.kind)}, ${String(body.models)} model(s)`;
    });
  }

  const bridgeSkip = !target.bridgeUrl ? 'no bridge URL' : !target.bridgeUserToken ? 'no bridge user token' : undefined;
  const bridge = (path: string, init: RequestInit = {}) =>
    fetchFn(`${target.bridgeUrl!.replace(/\/+$/, '')}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${target.bridgeUserToken}`, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  const bridgeError = async (res: Response) => {
    const body = (await res.json().catch(() => null)) as unknown;
    const e = isRecord(body) && isRecord(body.error) ? body.error : {};
    return new CheckFailed(`answered ${res.status}${e.code ? ` ${String(e.code)}` : ''}${e.message ? `: ${String(e.message)}` : ''}`);
  };

  await check('bridge health', async () => {
    const res = await bridge('/openclaw/health');
    if (res.status !== 200) throw await bridgeError(res);
    const body = (await res.json()) as { ok?: unknown; latencyMs?: unknown };
    if (body.ok !== true) throw new CheckFailed('the bridge reports the gateway unhealthy');
    return `ok, through the bridge in ${String(body.latencyMs ?? '?')} ms`;
  }, bridgeSkip);

  await check('bridge chat round trip', async () => {
    const res = await bridge('/openclaw/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'clawops smoke check: please answer briefly.', sessionKey: `smoke-${runId}`.slice(0, 64) }),
    });
    if (res.status !== 200) throw await bridgeError(res);
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) throw new CheckFailed(`not an event stream: ${res.headers.get('content-type')}`);
    const events = parseEvents(await res.text());
    const last = events.at(-1);
    if (events[0]?.event !== 'start') throw new CheckFailed('the stream did not open with start');
    if (last?.event === 'error') throw new CheckFailed(`the stream ended with an error: ${String(last.data.code)} ${String(last.data.message ?? '')}`);
    if (last?.event !== 'done') throw new CheckFailed('the stream ended without done');
    if (last.data.state !== 'final') throw new CheckFailed(`the run ended ${String(last.data.state)}${last.data.error ? `: ${String(last.data.error)}` : ''}`);
    const model = isRecord(last.data.model) ? `${String(last.data.model.provider)}/${String(last.data.model.model)}` : null;
    if (target.chain && model && !target.chain.includes(model)) throw new CheckFailed(`answered by ${model}, which is not in the chain`);
    const fallbacks = Array.isArray(last.data.fallbacks) ? last.data.fallbacks.filter(isRecord) : [];
    const via = fallbacks.length ? `, after falling back ${fallbacks.map((f) => `${String(f.from)} → ${String(f.to)} (${String(f.reason)})`).join(', ')}` : '';
    if (typeof last.data.text !== 'string' || last.data.text.trim() === '') throw new CheckFailed('the reply is empty');
    return `${events.length} events, answered by ${model ?? 'an unnamed model'}${via}`;
  }, bridgeSkip);

  const fb = target.fallback;
  await check('fallback chain falls back', async () => {
    const result: ChatResult = await withGateway((g) =>
      g.chat({ sessionKey: `agent:${fb!.agentId}:clawops-smoke-${runId}`, agentId: fb!.agentId, message: 'clawops smoke check: please answer briefly.', timeoutMs }),
    );
    if (result.state !== 'final') throw new CheckFailed(`the run ended ${result.state}: ${result.text}`);
    const answered = modelRef(result.model);
    // The agent's primary is the canary: any other model answering got there by falling back.
    if (answered === fb!.canaryModel) throw new CheckFailed(`the canary ${fb!.canaryModel} answered: it is meant to fail`);
    if (result.model === null) throw new CheckFailed('the run reported no model');
    if (target.chain && !target.chain.includes(answered)) throw new CheckFailed(`answered by ${answered}, which is not in the chain`);
    if (result.fallbacks.length === 0) throw new CheckFailed(`${answered} answered but the run reported no fallback step`);
    const steps = result.fallbacks.map((f) => `${f.from} → ${f.to}${f.reason ? ` (${f.reason})` : ''}`).join(', ');
    return `the canary ${fb!.canaryModel} failed and ${answered} answered; steps: ${steps}`;
  }, fb ? undefined : 'no canary agent configured');

  return { ok: checks.every((c) => c.ok), checks };
}

/** The events of a whole server-sent-events body. */
function parseEvents(text: string): { event: string; data: Record<string, unknown> }[] {
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    if (!event) continue;
    try {
      const parsed: unknown = JSON.parse(data);
      out.push({ event, data: isRecord(parsed) ? parsed : {} });
    } catch {
      out.push({ event, data: {} });
    }
  }
  return out;
}

export { GatewayClientError };
