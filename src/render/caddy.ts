import type { Environment } from '../schema/environment.js';

/** Debian's caddy package: its program, and the account and home it makes for it. */
export const CADDY = { bin: '/usr/bin/caddy', user: 'caddy', home: '/var/lib/caddy', package: 'caddy' } as const;

/** The unit clawops runs Caddy in, and the Caddyfile it reads. */
export const TLS_UNIT = 'openclaw-tls.service';
export const CADDYFILE = '/etc/caddy/clawops.Caddyfile';

/**
 * Debian's own caddy.service: enabled by the package, it serves :80 with the package's example
 * site from /etc/caddy/Caddyfile, a dpkg conffile that a package upgrade may ask about or replace.
 * clawops runs Caddy in a unit of its own (written, health-gated and drift-checked like the others)
 * from a Caddyfile of its own, and turns Debian's off: a second Caddy would listen on :80 for
 * nothing and share the same certificate storage.
 */
export const DEBIAN_CADDY_UNIT = 'caddy.service';

type Tls = NonNullable<Environment['gateway']['tls']>;

/**
 * The Caddyfile of the TLS hop: one site for the domain, passed to the gateway on loopback.
 * reverse_proxy carries WebSocket upgrades as they are. Caddy (2.5 and later) replaces an
 * X-Forwarded-For sent by a client with the client's own address, so the gateway, which trusts
 * 127.0.0.1 as its proxy (gateway.trustedProxies), rate-limits each client by its real address.
 */
export function renderCaddyfile(tls: Tls, gatewayPort: number): string {
  const issuer =
    tls.issuer === 'internal'
      ? ['\t\tissuer internal {', ...(tls.lifetime ? [`\t\t\tlifetime ${tls.lifetime}`] : []), '\t\t}']
      : [
          '\t\tissuer acme {',
          ...(tls.acme?.email ? [`\t\t\temail ${tls.acme.email}`] : []),
          // TLS-ALPN-01 is answered on the TLS port itself: port 80 stays closed.
          '\t\t\tdisable_http_challenge',
          '\t\t}',
        ];
  const lines = [
    '# Managed by clawops: edits on the host are reported as drift and replaced by the next apply.',
    '{',
    // Nothing reconfigures this Caddy at run time: clawops restarts it with a new file.
    '\tadmin off',
    // No listener on :80 for redirects: clients are given https:// URLs only.
    '\tauto_https disable_redirects',
    '}',
    '',
    `https://${tls.domain}:${tls.port} {`,
    '\ttls {',
    ...issuer,
    '\t}',
    '\theader Strict-Transport-Security "max-age=31536000"',
    `\treverse_proxy 127.0.0.1:${gatewayPort}`,
    '}',
    '',
  ];
  return lines.join('\n');
}

/** curl words that make a health gate reach the TLS hop on the host itself, whatever DNS says. */
export function tlsGateCurlArgs(tls: Tls): string[] {
  // A name resolves to this host's loopback; an address is the host's own, and is used as it is
  // (without SNI, Caddy picks an address's certificate by the address connected to).
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(tls.domain);
  // The gate proves that Caddy serves and reaches the gateway; whether clients trust the
  // certificate is the smoke's check, from outside.
  return ['--insecure', ...(ip ? [] : ['--resolve', `${tls.domain}:${tls.port}:127.0.0.1`])];
}
