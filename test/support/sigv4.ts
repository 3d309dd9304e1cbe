// Signature Version 4 as an AWS service checks it, for the local stand-ins of AWS APIs: the
// Authorization header's form, the access key, the credential scope (date, region, service), the
// signed headers, the payload hash and the signature itself (canonical request, string to sign,
// signing key). Each stand-in turns a refusal into its own protocol's error (a Query API's XML, a
// JSON 1.1 service's __type).
//
// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface SigV4Expectation {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  /** A request dated further from the server's clock is refused (AWS: 5 minutes). */
  maxSkewMs?: number;
}

/** Why a signature does not hold, in AWS's terms; each stand-in names it as its protocol does. */
export type SigV4Refusal =
  | { reason: 'malformed'; message: string }
  | { reason: 'unknown-key'; message: string }
  | { reason: 'date'; message: string }
  | { reason: 'expired'; message: string }
  | { reason: 'scope'; message: string }
  | { reason: 'unsigned-headers'; message: string }
  | { reason: 'payload-hash'; message: string }
  | { reason: 'signature'; message: string };

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();
const HEADER = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** The refusal, or undefined when the request is signed by the expected key for this scope. */
export function checkSigV4(req: IncomingMessage, body: Buffer, expect: SigV4Expectation): SigV4Refusal | undefined {
  const m = HEADER.exec(String(req.headers.authorization ?? ''));
  if (!m) return { reason: 'malformed', message: 'Authorization header is missing or not AWS4-HMAC-SHA256' };
  const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  if (keyId !== expect.accessKeyId) return { reason: 'unknown-key', message: 'The security token included in the request is invalid.' };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
    return { reason: 'date', message: 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP' };
  }
  if (expect.maxSkewMs !== undefined) {
    const when = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    if (Math.abs(Date.now() - when) > expect.maxSkewMs) return { reason: 'expired', message: 'Request has expired.' };
  }
  if (service !== expect.service || region !== expect.region) {
    return { reason: 'scope', message: `Credential should be scoped to a valid region and service (${expect.service} in ${expect.region}), not ${service} in ${region}` };
  }
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return { reason: 'unsigned-headers', message: 'host and x-amz-date must be signed' };
  const payloadHash = sha256(body);
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== payloadHash) {
    return { reason: 'payload-hash', message: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  }
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const url = new URL(req.url ?? '/', 'http://x');
  const query = [...url.searchParams]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [req.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${expect.secretAccessKey}`, date!), region!), service!), 'aws4_request');
  if (!timingSafeEqual(createHmac('sha256', key).update(stringToSign, 'utf8').digest(), Buffer.from(signature!, 'hex'))) {
    return { reason: 'signature', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' };
  }
  return undefined;
}
