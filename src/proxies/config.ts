/**
 * The proxy's config file, as rendered by clawops for each proxy unit:
 *
 * ```json
 * {"kind":"gemini","port":18790,"upstream":"https://generativelanguage.googleapis.com/v1beta",
 *  "apiKeyEnv":"GEMINI_API_KEY","timeoutMs":60000,"maxBodyBytes":4194304,
 *  "models":[{"id":"gemini-2.5-flash","name":"Gemini 2.5 Flash","contextWindow":1048576,"maxTokens":65536}]}
 * ```
 *
 * A model may carry `sampling`, the provider's fixed or allowed values for it (see sampling.ts),
 * e.g. `"sampling":{"temperature":{"thinking":1,"nonThinking":0.6},"top_p":0.95}`.
 *
 * `timeoutMs` (default 60000) and `maxBodyBytes` (default 4 MiB) may be omitted. `port` 0 asks for
 * an ephemeral port (used by tests; the bound port is logged). Unknown keys are rejected so that a
 * typo in the renderer fails at start instead of being silently ignored. The API key itself is
 * never in this file: only the name of the environment variable that holds it.
 */
import { readFileSync } from 'node:fs';
import { samplingProblems } from './sampling.js';
import type { Sampling } from './sampling.js';

export const PROXY_KINDS = ['gemini', 'mistral', 'kimi'] as const;
export type ProxyKind = (typeof PROXY_KINDS)[number];

export interface ModelEntry {
  id: string;
  name?: string;
  contextWindow?: number;
  maxTokens?: number;
  /** The provider's fixed or allowed sampling values for this model (see sampling.ts). */
  sampling?: Sampling;
}

export interface ProxyConfig {
  kind: ProxyKind;
  port: number;
  /** Base URL without trailing slash, e.g. https://api.mistral.ai/v1 */
  upstream: string;
  apiKeyEnv: string;
  timeoutMs: number;
  maxBodyBytes: number;
  models: ModelEntry[];
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Every problem found in one config file, so the operator can fix them all in one pass. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid proxy config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const TOP_KEYS = new Set(['kind', 'port', 'upstream', 'apiKeyEnv', 'timeoutMs', 'maxBodyBytes', 'models']);
const MODEL_KEYS = new Set(['id', 'name', 'contextWindow', 'maxTokens', 'sampling']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function loadProxyConfig(file: string): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseProxyConfig(text, file);
}

export function parseProxyConfig(text: string, file: string): ProxyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [jsonSyntaxProblem(text, err as Error)]);
  }
  if (!isPlainObject(raw)) throw new ConfigError(file, ['top level: expected a JSON object']);

  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key)) problems.push(`${key}: unknown key (expected one of ${[...TOP_KEYS].join(', ')})`);
  }

  const kind = raw.kind;
  if (typeof kind !== 'string' || !(PROXY_KINDS as readonly string[]).includes(kind)) {
    problems.push(`kind: expected one of ${PROXY_KINDS.join(', ')}, got ${show(kind)}`);
  }
  const port = raw.port;
  if (!isIntIn(port, 0, 65535)) problems.push(`port: expected an integer 0-65535, got ${show(port)}`);

  const upstream = raw.upstream;
  if (typeof upstream !== 'string') {
    problems.push(`upstream: expected a URL string, got ${show(upstream)}`);
  } else {
    const why = upstreamProblem(upstream);
    if (why) problems.push(`upstream: ${why}`);
  }

  const apiKeyEnv = raw.apiKeyEnv;
  if (typeof apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv)) {
    problems.push(`apiKeyEnv: expected an environment variable name like GEMINI_API_KEY, got ${show(apiKeyEnv)}`);
  }

  const timeoutMs = raw.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!isIntIn(timeoutMs, 1, 3_600_000)) problems.push(`timeoutMs: expected an integer 1-3600000, got ${show(timeoutMs)}`);
  const maxBodyBytes = raw.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!isIntIn(maxBodyBytes, 1, 1024 * 1024 * 1024)) {
    problems.push(`maxBodyBytes: expected an integer 1-1073741824, got ${show(maxBodyBytes)}`);
  }

  const models: ModelEntry[] = [];
  if (!Array.isArray(raw.models) || raw.models.length === 0) {
    problems.push(`models: expected a non-empty array, got ${show(raw.models)}`);
  } else {
    const seen = new Set<string>();
    raw.models.forEach((m: unknown, i: number) => {
      const at = `models[${i}]`;
      if (!isPlainObject(m)) {
        problems.push(`${at}: expected an object, got ${show(m)}`);
        return;
      }
      for (const key of Object.keys(m)) {
        if (!MODEL_KEYS.has(key)) problems.push(`${at}.${key}: unknown key (expected one of ${[...MODEL_KEYS].join(', ')})`);
      }
      if (typeof m.id !== 'string' || m.id.trim() === '') {
        problems.push(`${at}.id: expected a non-empty string, got ${show(m.id)}`);
      } else if (seen.has(m.id)) {
        problems.push(`${at}.id: duplicate model id ${JSON.stringify(m.id)}`);
      } else {
        seen.add(m.id);
      }
      if (m.name !== undefined && typeof m.name !== 'string') problems.push(`${at}.name: expected a string, got ${show(m.name)}`);
      for (const key of ['contextWindow', 'maxTokens'] as const) {
        if (m[key] !== undefined && !isIntIn(m[key], 1, Number.MAX_SAFE_INTEGER)) {
          problems.push(`${at}.${key}: expected a positive integer, got ${show(m[key])}`);
        }
      }
      if (m.sampling !== undefined) problems.push(...samplingProblems(m.sampling, `${at}.sampling`));
      const entry: ModelEntry = { id: String(m.id) };
      if (typeof m.name === 'string') entry.name = m.name;
      if (typeof m.contextWindow === 'number') entry.contextWindow = m.contextWindow;
      if (typeof m.maxTokens === 'number') entry.maxTokens = m.maxTokens;
      if (m.sampling !== undefined) entry.sampling = m.sampling as Sampling;
      models.push(entry);
    });
  }

  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    kind: kind as ProxyKind,
    port: port as number,
    upstream: (upstream as string).replace(/\/+$/, ''),
    apiKeyEnv: apiKeyEnv as string,
    timeoutMs: timeoutMs as number,
    maxBodyBytes: maxBodyBytes as number,
    models,
  };
}

/** Reads `--config PATH` (or `--config=PATH`) from argv; null when absent. */
export function configPathFromArgv(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') return argv[i + 1] ?? null;
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return null;
}

function upstreamProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an absolute URL, got ${JSON.stringify(value)}`;
  }
  if (url.search || url.hash) return 'must not carry a query or fragment (the API key travels in a header)';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:' || url.protocol === 'http:') return null;
  return `expected an http(s):// URL, got ${JSON.stringify(value)}`;
}

/** Plain http sends the API key in clear text; fine for a loopback stand-in, worth a warning otherwise. */
export function sendsKeyInClear(config: ProxyConfig): boolean {
  const url = new URL(config.upstream);
  return url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname);
}

function jsonSyntaxProblem(text: string, err: Error): string {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return `not valid JSON: ${err.message}`;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: not valid JSON: ${err.message}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIntIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
