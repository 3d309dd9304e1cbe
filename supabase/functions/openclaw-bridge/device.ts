/**
 * The bridge's device identity for the gateway: an Ed25519 key (PKCS#8 PEM) through WebCrypto.
 * The device id is the hex SHA-256 of the raw 32-byte public key; the public key travels as
 * base64url of those 32 bytes.
 */
import type { DeviceSigner } from './protocol.ts';

// No return types spelled out: Deno 2.1's TypeScript (5.6) has no generic Uint8Array, and newer
// ones infer the ArrayBuffer-backed kind WebCrypto asks for.
const base64ToBytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export class DeviceKeyError extends Error {}

/** Imports the key once per isolate; the same PEM gives the same identity. */
let cached: { pem: string; signer: Promise<DeviceSigner> } | undefined;

export function deviceFromPem(pem: string): Promise<DeviceSigner> {
  if (cached?.pem !== pem) cached = { pem, signer: importDevice(pem) };
  return cached.signer;
}

async function importDevice(pem: string): Promise<DeviceSigner> {
  const body = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem)?.[1];
  if (!body) throw new DeviceKeyError('the device key is not a PKCS#8 PEM private key');
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('pkcs8', base64ToBytes(body.replace(/\s+/g, '')), { name: 'Ed25519' }, true, ['sign']);
  } catch {
    // The key's bytes stay out of the message.
    throw new DeviceKeyError('the device key is not an Ed25519 PKCS#8 key');
  }
  const jwk = await crypto.subtle.exportKey('jwk', key);
  if (typeof jwk.x !== 'string') throw new DeviceKeyError('the device key has no public part');
  const raw = fromBase64url(jwk.x);
  const id = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', raw)));
  const encoder = new TextEncoder();
  return {
    id,
    publicKey: base64url(raw),
    sign: async (payload) => base64url(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, encoder.encode(payload)))),
  };
}
