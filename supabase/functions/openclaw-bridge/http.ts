/**
 * The HTTP face of the bridge: JSON errors with a status a web client can act on, CORS for the
 * configured origins only, and the path forms Supabase uses.
 */
import type { GatewayError } from './gateway.ts';

/** A failure to report to the web client: `{"error":{"code","message"}}` with `status`. */
export class BridgeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

export function fromGatewayError(err: GatewayError, timeoutMs: number): BridgeError {
  switch (err.kind) {
    case 'unreachable':
      return new BridgeError(502, 'gateway_unreachable', 'The OpenClaw gateway cannot be reached.');
    case 'timeout':
      return new BridgeError(504, 'gateway_timeout', `The OpenClaw gateway did not answer within ${Math.round(timeoutMs / 1000)} s.`);
    case 'not_ready': {
      const after = Math.max(1, Math.ceil((err.retryAfterMs ?? 5_000) / 1000));
      return new BridgeError(503, 'gateway_not_ready', 'The OpenClaw gateway is starting or restarting; try again shortly.', { 'retry-after': String(after) });
    }
    case 'rejected':
      return new BridgeError(502, 'gateway_rejected', 'The OpenClaw gateway refused the bridge\'s credentials.');
    default:
      return new BridgeError(502, 'gateway_error', `The OpenClaw gateway failed the request: ${err.message}`);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

export const errorResponse = (e: BridgeError, headers: Record<string, string> = {}) =>
  json(e.status, { error: { code: e.code, message: e.message } }, { ...headers, ...e.headers });

/**
 * CORS headers for an allowed origin; null for a disallowed one (which then gets none at all);
 * an empty object when the request carries no Origin (not a browser's cross-origin call).
 */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> | null {
  if (origin === null) return {};
  if (!allowed.includes('*') && !allowed.includes(origin)) return null;
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}

export type Endpoint = 'health' | 'chat' | 'history' | 'agents-status' | 'skills';

export const ROUTES: Record<string, { endpoint: Endpoint; method: 'GET' | 'POST' }> = {
  '/openclaw/health': { endpoint: 'health', method: 'GET' },
  '/openclaw/chat': { endpoint: 'chat', method: 'POST' },
  '/openclaw/history': { endpoint: 'history', method: 'GET' },
  '/openclaw/agents/status': { endpoint: 'agents-status', method: 'GET' },
  '/openclaw/skills': { endpoint: 'skills', method: 'GET' },
};

/**
 * The route part of a path. Supabase serves the function at /functions/v1/<slug>/… and hands it
 * the path as /<slug>/…; both forms, and the bare /openclaw/…, are accepted.
 */
export function routePath(pathname: string): string {
  const p = pathname.replace(/\/+$/, '') || '/';
  const m = /^(?:\/functions\/v1)?(?:\/[a-z0-9][a-z0-9_-]*)?(\/openclaw(?:\/.*)?)$/.exec(p);
  return m?.[1] ?? p;
}
