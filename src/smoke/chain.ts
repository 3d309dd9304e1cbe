/**
 * The chain report: each step of the fallback chain, probed from the host through the path
 * OpenClaw uses (the proxy for a proxied provider, the upstream otherwise), and what each answered.
 *
 * Commands are data: `chainProbePlan` (pure) says what to request, the host program in
 * chain-program.ts performs exactly that plan and returns raw answers, and `classifyProbe` (pure)
 * turns one raw answer into a state. Keys stay on the host: the plan names the env file and
 * variable holding each key, the program reads them there and sends back no key.
 */
import { resolveModel, type Config } from '../config/model.js';
import type { DesiredState } from '../render/desired.js';
import { openclawBaseUrl } from '../render/openclaw.js';

export type ChainState = 'ok' | 'auth failed' | 'rate limited / quota' | 'model gone' | 'unreachable' | 'error';

/** How a request carries the key: OpenAI's bearer header, Gemini's own header, or not at all (a proxy holds it). */
export type KeyScheme = 'bearer' | 'x-goog-api-key' | 'none';

export interface ChainProbe {
  /** 1-based, as operators count the chain. */
  step: number;
  /** provider/model, as in config/fallback-chain.yaml. */
  ref: string;
  provider: string;
  model: string;
  via: 'proxy' | 'upstream';
  /** The smallest chat request, sent where OpenClaw sends it. */
  chat: { url: string; auth: KeyScheme; body: Record<string, unknown> };
  /** The provider's model list (costs no tokens), always at the upstream itself. */
  list: { url: string; auth: KeyScheme; format: 'openai' | 'gemini' };
  /** Where the key lives on the host: an env file clawops wrote, and the variable in it. */
  key: { file: string; variable: string };
}

export interface ChainProbePlan {
  probes: ChainProbe[];
  /** Bound on each request, in milliseconds. */
  timeoutMs: number;
}

/** What the host program returns for one probe. Bodies are cut short and have the key replaced. */
export interface ProbeAnswer {
  step: number;
  key: 'present' | 'missing';
  list: { status: number | null; ids?: string[]; error?: string };
  chat: { status: number | null; ms: number; body?: string; retryAfter?: string | null; error?: string };
}

export interface ChainStep {
  step: number;
  ref: string;
  via: 'proxy' | 'upstream';
  state: ChainState;
  /** The chat request's time, when it was answered. */
  ms?: number;
  detail: string;
}

export interface ChainReport {
  environment: string;
  /** ISO time the probes ran. */
  at: string;
  steps: ChainStep[];
}

const CHAT_TIMEOUT_MS = 20_000;

/** What to ask of each step, from the config and the environment's render (where its env files are). */
export function chainProbePlan(config: Config, desired: DesiredState, envName: string): ChainProbePlan {
  const env = config.environments.find((e) => e.name === envName);
  if (!env) throw new Error(`no environment ${envName}`);
  const gatewayEnv = desired.files.find((f) => f.role === 'env' && f.name === 'gateway.env');
  const probes = config.chain.map((ref, i): ChainProbe => {
    const resolved = resolveModel(config.providers, ref);
    if (!resolved) throw new Error(`chain step ${i + 1}: ${ref} resolves to no model`);
    const { provider: p, model: m } = resolved;
    const keyFile = p.proxy ? desired.files.find((f) => f.role === 'env' && f.name === `proxies/${p.id}/proxy.env`) : gatewayEnv;
    if (!keyFile) throw new Error(`chain step ${i + 1}: no env file holds ${p.apiKeySecret} in ${envName}`);
    const upstream = (p.proxy ? (env.providers?.[p.id]?.upstream ?? p.baseUrl) : openclawBaseUrl(p, env)).replace(/\/+$/, '');
    const gemini = p.api === 'google-generative-ai';
    return {
      step: i + 1,
      ref,
      provider: p.id,
      model: m.id,
      via: p.proxy ? 'proxy' : 'upstream',
      chat: {
        // OpenClaw speaks chat completions to every provider, to the proxy where there is one.
        url: `${openclawBaseUrl(p, env).replace(/\/+$/, '')}/chat/completions`,
        auth: p.proxy ? 'none' : 'bearer',
        body: { model: m.id, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1, stream: false },
      },
      // Gemini: GET /v1beta/models with x-goog-api-key (https://ai.google.dev/api/models#method:-models.list);
      // OpenAI-compatible providers: GET /models with a bearer key (https://platform.openai.com/docs/api-reference/models/list).
      list: { url: `${upstream}/models`, auth: gemini ? 'x-goog-api-key' : 'bearer', format: gemini ? 'gemini' : 'openai' },
      key: { file: keyFile.path, variable: Object.keys(keyFile.secrets ?? {}).find((v) => keyFile.secrets![v] === p.apiKeySecret) ?? p.apiKeySecret },
    };
  });
  return { probes, timeoutMs: CHAT_TIMEOUT_MS };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The provider's error message and code, from OpenAI's, Gemini's or Mistral's error shape. */
function errorOf(body: string | undefined): { message: string; code: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { message: (body ?? '').trim().slice(0, 200), code: '' };
  }
  const root = Array.isArray(parsed) ? parsed[0] : parsed; // Gemini sometimes wraps the error in an array
  const e = isRecord(root) && isRecord(root.error) ? root.error : isRecord(root) ? root : {};
  const message = typeof e.message === 'string' ? e.message : typeof root === 'string' ? root : '';
  const code = [e.code, e.type, e.status].filter((c) => typeof c === 'string' || typeof c === 'number').join(' ');
  return { message: message.trim().slice(0, 200), code: code.toLowerCase() };
}

// A model no longer served, as each provider says it: OpenAI-compatible `model_not_found`
// (https://platform.openai.com/docs/guides/error-codes), Gemini's 404 NOT_FOUND "models/x is not found"
// (https://ai.google.dev/gemini-api/docs/troubleshooting), Mistral's 400 `invalid_model`, DeepSeek's
// "Model Not Exist", OpenRouter's "is not a valid model ID".
const MODEL_GONE = /model_not_found|invalid_model|model not exist|does not exist|is not found|not a valid model|no such model|unknown model|model .*(?:deprecated|decommissioned|retired)/i;
// Quota and billing as each provider says it: OpenAI's `insufficient_quota`, Gemini's RESOURCE_EXHAUSTED,
// DeepSeek's 402 "Insufficient Balance", OpenRouter's 402 "requires more credits".
const QUOTA = /insufficient_quota|resource_exhausted|quota|insufficient balance|credits/i;

/** One probe's raw answer as a state: the pure heart of the report, tested with fixtures. */
export function classifyProbe(probe: Pick<ChainProbe, 'step' | 'ref' | 'via' | 'model'>, a: ProbeAnswer): ChainStep {
  const row = (state: ChainState, detail: string, ms?: number): ChainStep => ({ step: probe.step, ref: probe.ref, via: probe.via, state, ...(ms !== undefined ? { ms } : {}), detail });
  if (a.key === 'missing') return row('auth failed', 'no key on the host');
  const listed = a.list.status !== null && a.list.status >= 200 && a.list.status < 300 && a.list.ids ? a.list.ids : null;
  const unlisted = listed !== null && !listed.includes(probe.model);
  const { status, ms } = a.chat;
  // A model that still answers is not gone for users, even when the list no longer names it.
  if (status !== null && status >= 200 && status < 300) return row('ok', `answered in ${ms} ms${unlisted ? "; no longer in the provider's model list" : ''}`, ms);
  if (unlisted) return row('model gone', `not in the provider's model list (${listed.length} models)`);
  if (status === null) return row('unreachable', a.chat.error ?? 'no answer');
  const e = errorOf(a.chat.body);
  const said = e.message ? `: ${e.message}` : '';
  // Through a proxy, an upstream that could not be reached comes back as 502 or 504 (src/proxies/upstream.ts).
  if (probe.via === 'proxy' && (e.code.includes('upstream_unreachable') || e.code.includes('upstream_timeout'))) return row('unreachable', `the proxy could not reach the upstream${said}`);
  if (status === 429 || status === 402 || QUOTA.test(`${e.code} ${e.message}`)) {
    return row('rate limited / quota', `HTTP ${status}${a.chat.retryAfter ? `, retry after ${a.chat.retryAfter} s` : ''}${said}`);
  }
  if (status === 401 || status === 403) return row('auth failed', `HTTP ${status}${said}`);
  if (status === 404 || MODEL_GONE.test(`${e.code} ${e.message}`)) return row('model gone', `HTTP ${status}${said}`);
  return row('error', `HTTP ${status}${said}`);
}

/** The report from the plan (or the probes it names) and the program's answers, step by step. */
export function chainReport(environment: string, at: string, plan: { probes: readonly Pick<ChainProbe, 'step' | 'ref' | 'via' | 'model'>[] }, answers: readonly ProbeAnswer[]): ChainReport {
  const steps = plan.probes.map((p) => {
    const a = answers.find((x) => x.step === p.step);
    return a ? classifyProbe(p, a) : { step: p.step, ref: p.ref, via: p.via, state: 'error' as const, detail: 'the probe returned nothing for this step' };
  });
  return { environment, at, steps };
}

// --- consecutive failures -------------------------------------------------------------------

/**
 * What the scheduled run remembers between runs, kept on the host beside clawops's other records:
 * per step, its last state, how many runs in a row it has failed, and since when.
 */
export interface ChainHealth {
  version: 1;
  at: string;
  steps: Record<string, { state: ChainState; failedRuns: number; since: string | null }>;
}

/** The health after this run: a failing step counts one more run in a row, an answering one starts over. */
export function nextHealth(previous: ChainHealth | null, report: ChainReport): ChainHealth {
  const steps: ChainHealth['steps'] = {};
  for (const s of report.steps) {
    const before = previous?.steps[s.ref];
    const failed = s.state !== 'ok';
    const failedRuns = failed ? (before && before.failedRuns > 0 ? before.failedRuns + 1 : 1) : 0;
    steps[s.ref] = { state: s.state, failedRuns, since: failed ? (before && before.failedRuns > 0 && before.since ? before.since : report.at) : null };
  }
  return { version: 1, at: report.at, steps };
}

/**
 * The health after a run, from the earlier runs the host's probe program kept (oldest first) and
 * this run's report: each earlier run is classified as this one is, and counted in turn.
 */
export function healthOfRuns(environment: string, previous: readonly { at: string; probes: readonly Pick<ChainProbe, 'step' | 'ref' | 'via' | 'model'>[]; answers: readonly ProbeAnswer[] }[], report: ChainReport): ChainHealth {
  const before = previous.reduce<ChainHealth | null>((health, run) => nextHealth(health, chainReport(environment, run.at, run, run.answers)), null);
  return nextHealth(before, report);
}

/** A previous record read back from the host; anything unreadable counts as no record. */
export function parseHealth(text: string | null | undefined): ChainHealth | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return isRecord(v) && v.version === 1 && isRecord(v.steps) ? (v as unknown as ChainHealth) : null;
  } catch {
    return null;
  }
}

/**
 * A single failure is not news (a free tier's 429 passes): the issue opens or is updated only when
 * a step has failed on consecutive runs, and closes when every step answers again.
 */
export function issueDecision(health: ChainHealth): 'report' | 'close' | 'wait' {
  const states = Object.values(health.steps);
  if (states.every((s) => s.state === 'ok')) return 'close';
  return states.some((s) => s.failedRuns >= 2) ? 'report' : 'wait';
}
