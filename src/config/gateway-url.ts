import type { Environment } from '../schema/environment.js';

/**
 * Where clients (the bridge, the smoke checks) reach an environment's gateway: gateway.publicUrl,
 * or, with the TLS hop and no publicUrl written, https://<domain> (with its port when not 443).
 */
export function publicGatewayUrl(env: Pick<Environment, 'gateway'>): string | undefined {
  return env.gateway.publicUrl ?? (env.gateway.tls ? tlsUrl(env.gateway.tls) : undefined);
}

export function tlsUrl(tls: { domain: string; port: number }): string {
  return `https://${tls.domain}${tls.port === 443 ? '' : `:${tls.port}`}`;
}
