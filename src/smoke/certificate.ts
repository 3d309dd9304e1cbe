/**
 * The certificate a TLS endpoint serves, read over a real TLS connection as a client sees it, and
 * the verdict on it: trusted by this machine (its CA store, NODE_EXTRA_CA_CERTS), issued for the
 * name, and not about to expire. Caddy renews an ACME certificate 30 days before it expires; one
 * within the warning window means renewal has been failing for weeks.
 */
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';

export interface ServedCertificate {
  /** When it stops being valid. */
  notAfter: Date;
  /** Its issuer's common name (or organisation). */
  issuer: string;
  /** Why this machine does not trust it (chain or name), when it does not. */
  untrusted?: string;
}

const DAY_MS = 86_400_000;

/** Reads the certificate served at an https:// or wss:// URL (its host and port, 443 by default). */
export function readServedCertificate(url: string, timeoutMs = 15_000): Promise<ServedCertificate> {
  const u = new URL(url.replace(/^ws(s?):\/\//i, 'http$1://'));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  const ip = /^[\d.]+$|:/.test(host);
  return new Promise((resolve, reject) => {
    // Not refused here: an untrusted or expired certificate is what this reports, not a failure to read it.
    const socket = connect({ host, port, ...(ip ? {} : { servername: host }), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake with ${host}:${port} within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate() as PeerCertificate;
      socket.end();
      if (!cert || !cert.valid_to) return reject(new Error(`${host}:${port} served no certificate`));
      const nameError = checkServerIdentity(host, cert);
      const untrusted = !socket.authorized ? String(socket.authorizationError) : nameError ? nameError.message : undefined;
      resolve({ notAfter: new Date(cert.valid_to), issuer: String(cert.issuer?.CN || cert.issuer?.O || 'unknown issuer'), ...(untrusted ? { untrusted } : {}) });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`TLS to ${host}:${port}: ${err.message}`));
    });
  });
}

/** Whether the served certificate is fine now and for `warnDays` more. Pure. */
export function certificateVerdict(cert: ServedCertificate, now: Date, warnDays: number): { ok: boolean; detail: string } {
  const leftMs = cert.notAfter.getTime() - now.getTime();
  const left = leftMs >= 2 * DAY_MS ? `${Math.floor(leftMs / DAY_MS)} days` : leftMs >= 3_600_000 ? `${Math.floor(leftMs / 3_600_000)} h` : `${Math.max(0, Math.floor(leftMs / 60_000))} min`;
  const until = cert.notAfter.toISOString().replace(/\.\d+Z$/, 'Z');
  if (cert.untrusted) return { ok: false, detail: `not trusted here: ${cert.untrusted} (issued by ${cert.issuer}, valid until ${until})` };
  if (leftMs <= 0) return { ok: false, detail: `expired at ${until} (issued by ${cert.issuer})` };
  if (leftMs < warnDays * DAY_MS) return { ok: false, detail: `expires in ${left}, at ${until}: within ${warnDays} days, so its renewal is failing (issued by ${cert.issuer})` };
  return { ok: true, detail: `valid for ${left} more, until ${until} (issued by ${cert.issuer})` };
}

/** The check as smoke and drift run it: read, then judge; a failure to read is a failed check. */
export async function checkCertificate(url: string, warnDays: number, now: () => Date = () => new Date()): Promise<{ ok: boolean; detail: string }> {
  try {
    return certificateVerdict(await readServedCertificate(url), now(), warnDays);
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
