/**
 * The bridge's settings, from environment variables (Supabase function secrets). Problems name the
 * variable, never its value.
 *
 * | variable                          | meaning                                                         |
 * |-----------------------------------|-----------------------------------------------------------------|
 * | OPENCLAW_GATEWAY_URL              | the gateway, ws(s):// or http(s):// (the environment's publicUrl)|
 * | OPENCLAW_GATEWAY_TOKEN            | the gateway token the bridge presents                            |
 * | OPENCLAW_GATEWAY_TOKEN_NEXT       | only while the token is rotated: the new token, tried when the gateway says the current one does not match |
 * | OPENCLAW_BRIDGE_DEVICE_KEY        | the bridge's Ed25519 device identity, PKCS#8 PEM                 |
 * | OPENCLAW_BRIDGE_CORS_ORIGINS      | allowed browser origins: comma-separated or a JSON array         |
 * | OPENCLAW_BRIDGE_TIMEOUT_SECONDS   | one request end to end, 1–145 (default 140: the runtime stops at 150) |
 * | OPENCLAW_BRIDGE_AGENT_ID          | the agent web users talk to (default main)                        |
 * | OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS | how long a request waits out a gateway that is restarting, 0–145 (default 60) |
 * | SUPABASE_URL, SUPABASE_ANON_KEY   | provided by Supabase to every function: where user tokens are checked |
 * | OPENCLAW_BRIDGE_ALLOW_PLAINTEXT   | 1 on a test environment only: a ws:// or http:// gateway URL off loopback is accepted |
 * | OPENCLAW_BRIDGE_PORT              | only outside Supabase (tests, local runs): listen on 127.0.0.1:PORT (0 = any free port) |
 */

import { plaintextRefusal } from './gateway-url.ts';

export const ENV = {
  gatewayUrl: 'OPENCLAW_GATEWAY_URL',
  gatewayToken: 'OPENCLAW_GATEWAY_TOKEN',
  gatewayTokenNext: 'OPENCLAW_GATEWAY_TOKEN_NEXT',
  deviceKey: 'OPENCLAW_BRIDGE_DEVICE_KEY',
  corsOrigins: 'OPENCLAW_BRIDGE_CORS_ORIGINS',
  timeoutSeconds: 'OPENCLAW_BRIDGE_TIMEOUT_SECONDS',
  agentId: 'OPENCLAW_BRIDGE_AGENT_ID',
  restartWaitSeconds: 'OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS',
  supabaseUrl: 'SUPABASE_URL',
  supabaseAnonKey: 'SUPABASE_ANON_KEY',
  allowPlaintext: 'OPENCLAW_BRIDGE_ALLOW_PLAINTEXT',
  port: 'OPENCLAW_BRIDGE_PORT',
} as const;

export const DEFAULT_TIMEOUT_SECONDS = 140;
/**
 * Supabase answers 504 for a request idle for 150 s and stops a worker after 150 s of wall clock on
 * the free plan (https://supabase.com/docs/guides/functions/limits, "Runtime limits"); the bridge
 * ends a chat stream itself before that, with an `error` event that keeps the text so far.
 */
export const MAX_TIMEOUT_SECONDS = 145;
/**
 * How long a request waits out a gateway that refuses connections or says it is starting: a restart
 * (a new token, a new release) takes that long at most on a small host; a gateway that stays down
 * is reported after it, not after the whole request timeout.
 */
export const DEFAULT_RESTART_WAIT_SECONDS = 60;

export interface Settings {
  /** ws:// or wss:// */
  gatewayUrl: string;
  gatewayToken: string;
  /** During a rotation only: the token the gateway takes once it restarted with it. */
  gatewayTokenNext?: string;
  deviceKeyPem: string;
  /** Exact origins (scheme://host[:port]); "*" allows any. */
  corsOrigins: string[];
  timeoutMs: number;
  /** How long a request keeps trying a restarting gateway (within timeoutMs). */
  restartWaitMs: number;
  agentId: string;
  supabaseUrl: string;
  supabaseAnonKey: string;
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; problems: string[] };

function parseOrigins(text: string): string[] | null {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let list: unknown;
  if (trimmed.startsWith('[')) {
    try {
      list = JSON.parse(trimmed);
    } catch {
      return null;
    }
  } else list = trimmed.split(',');
  if (!Array.isArray(list) || !list.every((o) => typeof o === 'string')) return null;
  return (list as string[]).map((o) => o.trim().replace(/\/+$/, '')).filter((o) => o !== '');
}

export function readSettings(get: (name: string) => string | undefined): SettingsResult {
  const problems: string[] = [];
  const required = (name: string): string => {
    const v = get(name)?.trim();
    if (!v) problems.push(`${name} is not set`);
    return v ?? '';
  };

  let gatewayUrl = required(ENV.gatewayUrl).replace(/^http(s?):\/\//, 'ws$1://');
  if (gatewayUrl && !/^wss?:\/\/[^/\s]+/.test(gatewayUrl)) {
    problems.push(`${ENV.gatewayUrl}: expected a ws://, wss://, http:// or https:// URL`);
    gatewayUrl = '';
  }
  const plaintext = gatewayUrl ? plaintextRefusal(gatewayUrl, get(ENV.allowPlaintext)?.trim() === '1') : null;
  if (plaintext) {
    problems.push(`${ENV.gatewayUrl}: ${plaintext}`);
    gatewayUrl = '';
  }
  const gatewayToken = required(ENV.gatewayToken);
  const gatewayTokenNext = get(ENV.gatewayTokenNext)?.trim() || undefined;
  const deviceKeyPem = required(ENV.deviceKey).replace(/\\n/g, '\n');
  if (deviceKeyPem && !deviceKeyPem.includes('-----BEGIN PRIVATE KEY-----')) problems.push(`${ENV.deviceKey}: expected a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)`);
  const supabaseUrl = required(ENV.supabaseUrl).replace(/\/+$/, '');
  const supabaseAnonKey = required(ENV.supabaseAnonKey);

  const origins = parseOrigins(get(ENV.corsOrigins) ?? '');
  if (origins === null) problems.push(`${ENV.corsOrigins}: expected comma-separated origins or a JSON array of strings`);

  /** A number of seconds from `min` to MAX_TIMEOUT_SECONDS, or the default when unset. */
  const seconds = (name: string, fallback: number, min: number): number => {
    const raw = get(name)?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (Number.isFinite(n) && n >= min && n <= MAX_TIMEOUT_SECONDS) return n;
    problems.push(`${name}: expected a number of seconds from ${min} to ${MAX_TIMEOUT_SECONDS}`);
    return fallback;
  };
  const timeoutSeconds = seconds(ENV.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS, 1);
  const restartWaitSeconds = seconds(ENV.restartWaitSeconds, DEFAULT_RESTART_WAIT_SECONDS, 0);

  const agentId = get(ENV.agentId)?.trim() || 'main';
  if (!/^[a-z0-9_][a-z0-9_-]{0,63}$/.test(agentId)) problems.push(`${ENV.agentId}: expected a lower-case agent id`);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      gatewayUrl,
      gatewayToken,
      ...(gatewayTokenNext && gatewayTokenNext !== gatewayToken ? { gatewayTokenNext } : {}),
      deviceKeyPem,
      corsOrigins: origins ?? [],
      timeoutMs: Math.round(timeoutSeconds * 1000),
      restartWaitMs: Math.round(restartWaitSeconds * 1000),
      agentId,
      supabaseUrl,
      supabaseAnonKey,
    },
  };
}
