/**
 * Every failure a client sees, in OpenAI's error shape `{"error":{"message","type","code"}}`.
 *
 * Statuses are chosen so OpenClaw's failover keeps working: an upstream 429 or 5xx stays what it
 * was (the gateway retries or fails over on those), a timeout is 504 and an unreachable upstream
 * 502, so no upstream trouble is ever reported as a client mistake (4xx other than 429).
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'timeout_error'
  | 'upstream_error';

export interface OpenAIErrorBody {
  error: { message: string; type: ErrorType; code: string | null };
}

export class ProxyError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string | null,
    message: string,
    /** Headers worth passing on, e.g. Retry-After from an upstream 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ProxyError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code } };
  }
}

export function badRequest(code: string, message: string): ProxyError {
  return new ProxyError(400, 'invalid_request_error', code, message);
}

/**
 * The status the client gets for an upstream's non-2xx status. 4xx are kept (the request or the
 * key is at fault, and the gateway needs to know which), 429 and 5xx are kept (failover), anything
 * else (1xx/3xx, which a JSON API never sends on purpose) becomes 502.
 */
export function clientStatusFor(upstreamStatus: number): number {
  if (upstreamStatus >= 400 && upstreamStatus <= 599) return upstreamStatus;
  return 502;
}

export function errorTypeFor(status: number): ErrorType {
  if (status === 400 || status === 413 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  if (status >= 500) return 'server_error';
  return 'upstream_error';
}

/**
 * Builds the client's error from an upstream error response. `message` and `code` are what the
 * provider adapter could read from the provider's own error shape.
 */
export function upstreamError(
  upstreamStatus: number,
  detail: { message?: string; code?: string | null },
  retryAfter: string | undefined,
): ProxyError {
  const status = clientStatusFor(upstreamStatus);
  const message = detail.message?.trim() || `upstream answered HTTP ${upstreamStatus}`;
  const headers: Record<string, string> = {};
  if (retryAfter) headers['retry-after'] = retryAfter;
  return new ProxyError(status, errorTypeFor(status), detail.code ?? `upstream_${upstreamStatus}`, message, headers);
}
