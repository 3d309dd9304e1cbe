/**
 * `clawops smoke --env NAME`: checks a running deployment from the outside, as its users reach it.
 *
 * - gateway health over its WebSocket, with the token and a device identity;
 * - each proxy's /healthz (status ok, and it holds its upstream key);
 * - the bridge's health, with a Supabase user token;
 * - a chat round trip through the bridge: the reply streams and ends with a final event; the check
 *   names the model that answered and any fallback it took;
 * - the heartbeat, through the gateway's `last-heartbeat` method on the same WebSocket: the last
 *   one did not fail and is not overdue for the cadence configured (30 min unless set);
 * - the fallback chain really falls back. A live deployment cannot be made to fail for its users,
 *   so the check runs one message whose first model is known to fail: a model id the chain's first
 *   provider does not serve (answered 404 or 400 at once, no tokens spent), followed by the chain.
 *   OpenClaw treats a one-off model override as the user's exact choice and never falls back from
 *   it, but a scheduled job's model is a primary with fallbacks (docs/concepts/model-failover.md of
 *   OpenClaw), so the check adds a disabled one-shot job, runs it once and removes it (this needs
 *   the operator.admin scope). It passes when a model of the chain answered. With
 *   `smoke.canaryAgent` configured, it talks to that agent instead (its primary always fails).
 *
 * Each check has a name, a result, its time and a detail line; the run fails when any check fails.
 * Network access is injectable (`fetch`), so the proxies of a remote host can be probed through
 * the host's own transport.
 */
import { checkCertificate } from './certificate.js';
import { GatewayClient, GatewayClientError, type ChatResult } from './gateway-client.js';
import { judgeFindings, parseAuditJson, PROBE_FAILED, type Acceptance, type AuditFinding } from '../audit/findings.js';
import { fallbackStepOf, RUNTIME_REPREPARED, type FallbackStep } from '../../supabase/functions/openclaw-bridge/protocol.js';

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
  /** A canary agent for the fallback check (its primary model is `canaryModel`); without one, the check uses a model override. */
  fallback?: { agentId: string; canaryModel: string };
  /** The fallback chain, primary first: an answering model must be one of these. */
  chain?: string[];
  /** Why the fallback cannot be checked here (no provider of the chain has its key), if it cannot. */
  fallbackSkip?: string;
  /** With the TLS hop: fail when the gateway URL's served certificate expires within this many days. */
  certificateWarnDays?: number;
  /** Per check. Default 120 s (a first chat prepares the agent's workspace). */
  timeoutMs?: number;
  /**
   * The host's own `openclaw security audit --deep --json` (the release's OpenClaw, which also
   * probes the live gateway), and the warnings the environment accepts: a critical finding or an
   * unaccepted warning fails the smoke.
   */
  deepAudit?: { run(): Promise<string>; accept: readonly Acceptance[] };
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
  /** Every finding of the deep audit, when it ran: what apply records of the release. */
  auditFindings?: AuditSummary[];
}

/** A finding as clawops prints and records it: never its detail, which may quote the config. */
export type AuditSummary = Pick<AuditFinding, 'checkId' | 'severity' | 'title'>;

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

/** The scopes the smoke asks for: reading and chatting, and admin for the fallback check's one-shot job. */
export const SMOKE_SCOPES = ['operator.read', 'operator.write', 'operator.admin'] as const;

/** OpenClaw's heartbeat cadence when `agents.defaults.heartbeat.every` is unset (docs/gateway/heartbeat.md). */
const DEFAULT_HEARTBEAT = '30m';

/** A duration as OpenClaw writes them ("30m", "1h", "1h30m", "45s"), in milliseconds; null when unreadable. */
export function durationMs(text: string): number | null {
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== text.trim()) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** `agents.defaults.heartbeat.every` of the config the gateway runs (from `config.get`), or the default. */
function heartbeatEveryOf(config: unknown): string {
  const runtime = isRecord(config) && isRecord(config.runtimeConfig) ? config.runtimeConfig : {};
  const agents = isRecord(runtime.agents) && isRecord(runtime.agents.defaults) ? runtime.agents.defaults : {};
  const hb = isRecord(agents.heartbeat) ? agents.heartbeat : {};
  return typeof hb.every === 'string' ? hb.every : DEFAULT_HEARTBEAT;
}

const minutes = (ms: number) => (ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

/**
 * Whether the heartbeat works, from the gateway's last heartbeat event (null until the first one),
 * its uptime and the configured cadence. The first heartbeat comes one cadence after the start, so
 * a young gateway without one is fine; a failed one, or none for two cadences, is not.
 */
export function heartbeatVerdict(input: { last: Record<string, unknown> | null; uptimeMs: number; every: string; now: number }): { ok: boolean; detail: string } {
  const everyMs = durationMs(input.every);
  if (everyMs === null) return { ok: false, detail: `the heartbeat cadence "${input.every}" is not a duration` };
  if (everyMs === 0) return { ok: true, detail: `heartbeats are turned off (every: ${input.every})` };
  const grace = Math.max(everyMs, 5 * 60_000);
  const { last } = input;
  if (!last) {
    return input.uptimeMs <= everyMs + grace
      ? { ok: true, detail: `none yet: the gateway started ${minutes(input.uptimeMs)} ago and beats every ${input.every}` }
      : { ok: false, detail: `no heartbeat since the gateway started ${minutes(input.uptimeMs)} ago, though it beats every ${input.every}` };
  }
  const age = typeof last.ts === 'number' ? Math.max(0, input.now - last.ts) : null;
  const ago = age === null ? 'at an unknown time' : `${minutes(age)} ago`;
  const status = typeof last.status === 'string' ? last.status : 'unknown';
  const why = [last.reason, last.message].filter((v) => typeof v === 'string' && v).join(': ');
  if (status === 'failed') return { ok: false, detail: `the last heartbeat, ${ago}, failed${why ? `: ${why}` : ''}` };
  if (age !== null && age > everyMs + grace) return { ok: false, detail: `the last heartbeat was ${ago}, though it beats every ${input.every}` };
  return { ok: true, detail: `last heartbeat ${ago}: ${status}${why ? ` (${why})` : ''}, every ${input.every}` };
}

/** The model id the fallback check starts from: one no provider serves, so its provider refuses it at once. */
export const UNSERVED_MODEL = 'clawops-smoke-unserved-model';

/**
 * Runs `attempt` (1, 2, …) again, after a pause of `n` seconds, while `failure` of its result is
 * OpenClaw's RUNTIME_REPREPARED answer, at most `tries` times in all; the last result, and how many
 * attempts it took. `failure` is null for a result that is no failure, or cannot be told apart from
 * the one before (then it is not asked again).
 */
export async function askWhileReprepared<T>(
  attempt: (n: number) => Promise<T>,
  failure: (result: T) => string | null,
  opts: { tries?: number; pause?: (n: number) => Promise<void> } = {},
): Promise<{ result: T; attempts: number }> {
  const tries = opts.tries ?? 3;
  const pause = opts.pause ?? ((n: number) => new Promise<void>((r) => setTimeout(r, 1_000 * n)));
  for (let n = 1; ; n++) {
    const result = await attempt(n);
    const why = failure(result);
    if (why === null || !RUNTIME_REPREPARED.test(why) || n >= tries) return { result, attempts: n };
    await pause(n);
  }
}

const askedAgain = (attempts: number) => (attempts > 1 ? `; asked ${attempts} times, as OpenClaw was preparing the agent's model runtime again` : '');

/**
 * The fallback without a canary: a disabled one-shot job whose model is one the chain's first
 * provider does not serve, with the chain as its fallbacks, run once and removed. Passes when a
 * model of the chain answered the run.
 */
async function fallbackWithoutCanary(g: GatewayClient, chain: readonly string[], runId: string, timeoutMs: number): Promise<string> {
  const [primary] = chain;
  if (!primary) throw new CheckFailed('no fallback chain to check');
  const start = `${primary.slice(0, primary.indexOf('/'))}/${UNSERVED_MODEL}`;
  const steps: FallbackStep[] = [];
  let jobId: string | undefined;
  const off = g.onEvent((e) => {
    const step = jobId && e.event === 'agent' && String(e.payload.sessionKey ?? '').includes(`:cron:${jobId}:`) ? fallbackStepOf(e.payload) : null;
    if (step && !steps.some((s) => s.from === step.from && s.to === step.to)) steps.push(step);
  });
  try {
    const job = await g.request('cron.add', {
      name: `clawops-smoke-fallback-${runId}`,
      description: 'clawops smoke: checks that the fallback chain falls back; removed after its one run',
      // Disabled and due in a day: it runs only when the check runs it.
      enabled: false,
      schedule: { kind: 'at', at: new Date(Date.now() + 86_400_000).toISOString() },
      sessionTarget: 'isolated',
      wakeMode: 'now',
      payload: { kind: 'agentTurn', message: 'clawops smoke check: please answer briefly.', model: start, fallbacks: [...chain], lightContext: true, timeoutSeconds: Math.ceil(timeoutMs / 1000) },
      delivery: { mode: 'none' },
    });
    jobId = isRecord(job) && typeof job.id === 'string' ? job.id : undefined;
    if (!jobId) throw new CheckFailed('the gateway added no job');
    const id = jobId;
    const deadline = Date.now() + timeoutMs;
    // One run of the job, to its finished entry; `distinct`: it carries its run id, so a run after it can be told apart.
    const runToEnd = async (): Promise<{ entry: Record<string, unknown>; distinct: boolean }> => {
      const run = await g.request('cron.run', { id, mode: 'force' });
      const cronRunId = isRecord(run) && typeof run.runId === 'string' ? run.runId : undefined;
      for (;;) {
        // A gateway restarting in-process answers UNAVAILABLE for a while: ask again until the deadline.
        const runs = await g.request('cron.runs', { id, ...(cronRunId ? { runId: cronRunId } : {}) }).catch((err: unknown) => {
          if (err instanceof GatewayClientError && err.kind === 'not-ready' && Date.now() < deadline) return null;
          throw err;
        });
        const entry = (isRecord(runs) && Array.isArray(runs.entries) ? runs.entries : []).find((r) => isRecord(r) && r.action === 'finished') as Record<string, unknown> | undefined;
        if (entry) return { entry, distinct: cronRunId !== undefined };
        if (Date.now() >= deadline) throw new CheckFailed(`the run from ${start} did not finish within ${Math.round(timeoutMs / 1000)} s`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const { result, attempts } = await askWhileReprepared(runToEnd, (r) => (r.entry.status !== 'ok' && r.distinct && Date.now() < deadline ? String(r.entry.error ?? '') : null));
    const entry = result.entry;
    const answered = typeof entry.provider === 'string' && typeof entry.model === 'string' ? `${entry.provider}/${entry.model}` : null;
    if (entry.status !== 'ok') throw new CheckFailed(`the run from ${start} ended ${String(entry.status)}${entry.error ? `: ${String(entry.error)}` : ''}`);
    if (!answered) throw new CheckFailed('the run reported no model');
    if (answered === start) throw new CheckFailed(`${start} answered: it is meant to fail`);
    if (!chain.includes(answered)) throw new CheckFailed(`answered by ${answered}, which is not in the chain`);
    const via = steps.length ? `; steps: ${steps.map((f) => `${f.from} → ${f.to}${f.reason ? ` (${f.reason})` : ''}`).join(', ')}` : '';
    return `${start} failed and ${answered} answered${via}${askedAgain(attempts)}`;
  } finally {
    off();
    if (jobId) await g.request('cron.remove', { id: jobId }).catch(() => {});
  }
}

/** Blocking findings of the deep audit, each by checkId and severity: `critical gateway.x (title), warn tools.y (title)`. */
export function deepAuditLine(findings: readonly { checkId: string; severity: string; title: string }[]): string {
  return findings.map((f) => `${f.severity} ${f.checkId} (${f.title})`).join(', ');
}

/**
 * The verdict on the host's deep audit, from the JSON `openclaw security audit --deep --json`
 * printed: it fails on a critical finding or a warning the environment does not accept. `detail`
 * names the blocking findings by severity, checkId and title, then the accepted ones; never a
 * finding's detail, which may quote the config. `findings` is every finding, for the release's record.
 */
export function deepAuditVerdict(json: string, accept: readonly Acceptance[]): { ok: boolean; detail: string; findings: AuditSummary[] } {
  const all = parseAuditJson(json);
  const findings = all.map((f) => ({ checkId: f.checkId, severity: f.severity, title: f.title }));
  // The live probe connects with the token alone, which OpenClaw grants no read scope unless the
  // host's CLI is a paired device; whether the gateway answers is the health check's to say.
  const probe = all.filter((f) => f.checkId === PROBE_FAILED);
  const { blocking, accepted } = judgeFindings(all.filter((f) => f.checkId !== PROBE_FAILED), accept);
  const notes = [
    ...(accepted.length ? [`${accepted.length} accepted (${accepted.map((f) => f.checkId).join(', ')})`] : []),
    ...probe.map((f) => `the live probe did not read the gateway (${f.title})`),
  ];
  if (blocking.length) return { ok: false, detail: [deepAuditLine(blocking), ...notes].join('; '), findings };
  return { ok: true, detail: ['no critical finding, no unaccepted warning', ...notes].join('; '), findings };
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

  // One connection for every gateway check, opened by the first that needs it.
  let opened: Promise<GatewayClient> | undefined;
  const gateway = () =>
    (opened ??= GatewayClient.open({ url: target.gatewayUrl, token: target.token, deviceKeyPem: target.deviceKeyPem, connectTimeoutMs: Math.min(timeoutMs, 15_000), scopes: [...SMOKE_SCOPES] }));

  if (target.certificateWarnDays !== undefined) {
    await check('TLS certificate', async () => {
      const verdict = await checkCertificate(target.gatewayUrl, target.certificateWarnDays!);
      if (!verdict.ok) throw new CheckFailed(verdict.detail);
      return verdict.detail;
    });
  }

  await check('gateway health (WebSocket)', async () => {
    const g = await gateway();
    const h = await g.request('health', {});
    if (!isRecord(h) || h.ok !== true) throw new CheckFailed('the gateway reports it is not healthy');
    const server = isRecord(g.hello.server) ? g.hello.server : {};
    await configApplied(g, Math.min(timeoutMs, 30_000));
    return `ok, OpenClaw ${String(server.version ?? '?')}, running the config on disk, health probe ${String(h.durationMs ?? '?')} ms`;
  });

  await check('heartbeat', async () => {
    const g = await gateway();
    const [last, info, config] = await Promise.all([g.request('last-heartbeat', {}), g.request('system.info', {}), g.request('config.get', {})]);
    const verdict = heartbeatVerdict({
      last: isRecord(last) ? last : null,
      uptimeMs: isRecord(info) && typeof info.uptimeMs === 'number' ? info.uptimeMs : 0,
      every: heartbeatEveryOf(config),
      now: Date.now(),
    });
    if (!verdict.ok) throw new CheckFailed(verdict.detail);
    return verdict.detail;
  });

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
    // The stream's v2 form, the one that stays (the README's "The chat stream").
    const res = await bridge('/openclaw/chat?v=2', {
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
    // done repeats the reply only when the deltas did not build it.
    let reply = '';
    for (const e of events) if (e.event === 'delta' && typeof e.data.text === 'string') reply = e.data.replace === true ? e.data.text : reply + e.data.text;
    if (typeof last.data.text === 'string') reply = last.data.text;
    if (reply.trim() === '') throw new CheckFailed('the reply is empty');
    return `${events.length} events, answered by ${model ?? 'an unnamed model'}${via}`;
  }, bridgeSkip);

  const fb = target.fallback;
  const chain = target.chain ?? [];
  await check('fallback chain falls back', async () => {
    if (!fb) return fallbackWithoutCanary(await gateway(), chain, runId, timeoutMs);
    const g = await gateway();
    // Each attempt in a session of its own.
    const { result, attempts }: { result: ChatResult; attempts: number } = await askWhileReprepared(
      (n) => g.chat({ sessionKey: `agent:${fb.agentId}:clawops-smoke-${runId}${n > 1 ? `-${n}` : ''}`, agentId: fb.agentId, message: 'clawops smoke check: please answer briefly.', timeoutMs }),
      (r) => (r.state === 'final' ? null : r.text),
    );
    if (result.state !== 'final') throw new CheckFailed(`the run ended ${result.state}: ${result.text}`);
    const answered = modelRef(result.model);
    // The agent's primary is the canary: any other model answering got there by falling back.
    if (answered === fb.canaryModel) throw new CheckFailed(`the canary ${fb.canaryModel} answered: it is meant to fail`);
    if (result.model === null) throw new CheckFailed('the run reported no model');
    if (target.chain && !target.chain.includes(answered)) throw new CheckFailed(`answered by ${answered}, which is not in the chain`);
    if (result.fallbacks.length === 0) throw new CheckFailed(`${answered} answered but the run reported no fallback step`);
    const steps = result.fallbacks.map((f) => `${f.from} → ${f.to}${f.reason ? ` (${f.reason})` : ''}`).join(', ');
    return `the canary ${fb.canaryModel} failed and ${answered} answered; steps: ${steps}${askedAgain(attempts)}`;
  }, target.fallbackSkip ?? (fb || chain.length ? undefined : 'no fallback chain given'));

  const audit = target.deepAudit;
  let auditFindings: AuditSummary[] | undefined;
  if (audit) await check('security audit --deep', async () => {
    const verdict = deepAuditVerdict(await audit.run(), audit.accept);
    auditFindings = verdict.findings;
    if (!verdict.ok) throw new CheckFailed(verdict.detail);
    return verdict.detail;
  });

  // Each check catches its own failures, so this is always reached.
  await opened?.then((g) => g.close(), () => {});
  return { ok: checks.every((c) => c.ok), checks, ...(auditFindings ? { auditFindings } : {}) };
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
