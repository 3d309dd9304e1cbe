import { createHash, createHmac } from 'node:crypto';

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The digest recorded for a file. A sensitive file's is keyed with the host's digest key, so the
 * record cannot confirm a guessed value; a bare hash of a secret never leaves the process.
 */
export function recordDigest(contentSha256: string, sensitive: boolean, key: string): string {
  return sensitive ? `hmac:${createHmac('sha256', key).update(contentSha256).digest('hex')}` : contentSha256;
}

/**
 * A sensitive file's digest as the release records it, from what the host reported: already keyed
 * there ("hmac:…"), or a bare sha256 keyed here. null: a bare one and no key to key it with.
 */
export function keyedFileDigest(reported: string, key: string | null): string | null {
  if (reported.startsWith('hmac:')) return reported;
  return key === null ? null : recordDigest(reported, true, key);
}

/** A keyed digest of any JSON-able value, for plan and facts fingerprints. */
export function keyedDigest(value: unknown, key: string): string {
  return createHmac('sha256', key).update(JSON.stringify(value)).digest('hex');
}
