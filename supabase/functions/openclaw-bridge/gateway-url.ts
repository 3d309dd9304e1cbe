/**
 * Whether a gateway URL may be plaintext. The bridge (Deno) and clawops's smoke checks (Node) both
 * present the gateway token and a device signature on that connection: over ws:// or http:// to
 * another machine they would cross the network readable by anyone on the path. Plaintext is allowed
 * to this machine's own loopback, and on an environment that says it is a test one.
 * No imports, so the bridge and clawops share this one copy.
 */

/** 127.0.0.0/8, ::1 and localhost: a connection that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** ws:// or http://: no TLS. */
export const isPlaintextUrl = (url: string): boolean => /^(ws|http):\/\//i.test(url.trim());

/**
 * Why this URL is refused, or null when it may be used. The reason never repeats the URL: a caller
 * names the setting it came from.
 */
export function plaintextRefusal(url: string, allowPlaintext: boolean): string | null {
  if (!isPlaintextUrl(url) || allowPlaintext) return null;
  let host: string;
  try {
    host = new URL(url.trim()).hostname;
  } catch {
    return null;
  }
  if (isLoopbackHost(host)) return null;
  return 'a plaintext ws:// or http:// gateway URL to another machine would send the gateway token and the device signature unencrypted: use wss:// or https:// (the TLS hop), or mark a test environment test: true';
}
