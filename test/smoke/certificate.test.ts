// The served certificate as smoke and drift read it: over a real TLS connection to a local server
// (certificates made by openssl for this run), judged against the warning window.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { plaintextRefusal } from '../../supabase/functions/openclaw-bridge/gateway-url.js';
import { readSettings } from '../../supabase/functions/openclaw-bridge/settings.js';
import { certificateVerdict, checkCertificate, readServedCertificate } from '../../src/smoke/certificate.js';

let dir: string;
const servers: Server[] = [];

/** A server on loopback serving a self-signed certificate for 127.0.0.1, valid for `days`. */
async function serve(days: number): Promise<{ url: string; certPath: string }> {
  const key = join(dir, `key-${days}.pem`);
  const cert = join(dir, `cert-${days}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', '/CN=clawops test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (s) => s.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}`, certPath: cert };
}

describe('the served certificate', () => {
  before(async () => void (dir = await mkdtemp(join(tmpdir(), 'clawops-cert-'))));
  after(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('one that expires within the window is reported with when; a longer one passes', async () => {
    const soon = await serve(10);
    const cert = await readServedCertificate(soon.url);
    // Not trusted here (self-signed): the verdict says so before anything else.
    assert.match(certificateVerdict(cert, new Date(), 14).detail, /^not trusted here: /);
    const trusted = { ...cert, untrusted: undefined };
    const verdict = certificateVerdict(trusted, new Date(), 14);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /^expires in (9|10) days, at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: within 14 days, so its renewal is failing/);
    const later = await readServedCertificate((await serve(60)).url);
    assert.match(certificateVerdict({ ...later, untrusted: undefined }, new Date(), 14).detail, /^valid for (59|60) days more/);
    assert.equal(certificateVerdict({ ...later, untrusted: undefined }, new Date(later.notAfter.getTime() + 1000), 14).detail.startsWith('expired at'), true);
  });

  test('an endpoint with no TLS behind it fails the check with where it looked', async () => {
    const r = await checkCertificate('https://127.0.0.1:9', 14);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^TLS to 127\.0\.0\.1:9: /);
  });
});

describe('a plaintext gateway URL', () => {
  test('is refused off loopback, allowed on loopback or when the environment allows it', () => {
    assert.match(plaintextRefusal('http://203.0.113.10:18789', false) ?? '', /unencrypted/);
    assert.match(plaintextRefusal('ws://gateway.example.com', false) ?? '', /unencrypted/);
    assert.equal(plaintextRefusal('http://127.0.0.1:18789', false), null);
    assert.equal(plaintextRefusal('ws://[::1]:18789', false), null);
    assert.equal(plaintextRefusal('http://localhost:18789', false), null);
    assert.equal(plaintextRefusal('https://gateway.example.com', false), null);
    assert.equal(plaintextRefusal('http://203.0.113.10:18789', true), null);
  });

  test('the bridge\'s settings refuse it, naming the variable and never its value', () => {
    const env: Record<string, string> = {
      OPENCLAW_GATEWAY_URL: 'http://203.0.113.10:18789',
      OPENCLAW_GATEWAY_TOKEN: 'canary-token-4f1e',
      // A device key made for this run, never one written down.
      OPENCLAW_BRIDGE_DEVICE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      SUPABASE_URL: 'https://example.supabase.co',
      SUPABASE_ANON_KEY: 'anon',
    };
    const refused = readSettings((n) => env[n]);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.problems.some((p) => p.startsWith('OPENCLAW_GATEWAY_URL: a plaintext ws:// or http:// gateway URL')));
    assert.ok(!refused.ok && !refused.problems.join('\n').includes('203.0.113.10'));
    assert.equal(readSettings((n) => ({ ...env, OPENCLAW_BRIDGE_ALLOW_PLAINTEXT: '1' })[n]).ok, true);
    assert.equal(readSettings((n) => ({ ...env, OPENCLAW_GATEWAY_URL: 'https://gateway.example.com' })[n]).ok, true);
  });
});
