// The STS adapter for GetCallerIdentity. No STS client package is a dependency, and the call is the
// simplest of AWS's Query API: a signed form POST answered with XML
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). So it is signed
// here with the SDK's own Signature Version 4 signer and the SDK's credential chain (the AWS_*
// variables, AWS_PROFILE and SSO, a web identity, an instance role), as every SDK client is.
// AWS_ENDPOINT_URL_STS points it elsewhere (a stand-in in tests), as it does for the SDK clients.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { CallerIdentityError, type CallerIdentity, type CallerIdentityPort } from './caller-identity.js';

type Bytes = string | ArrayBuffer | ArrayBufferView;
const buf = (d: Bytes): Buffer => (typeof d === 'string' ? Buffer.from(d, 'utf8') : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** SHA-256, and HMAC-SHA-256 with a secret, in the shape the signer takes. */
class Sha256 {
  readonly #secret: Buffer | undefined;
  #hash: Hash | Hmac;
  constructor(secret?: Bytes) {
    this.#secret = secret === undefined ? undefined : buf(secret);
    this.#hash = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    return this.#secret ? createHmac('sha256', this.#secret) : createHash('sha256');
  }
  update(data: Bytes): void {
    this.#hash.update(buf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

const tag = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

export class StsCallerIdentity implements CallerIdentityPort {
  readonly #region: string;
  readonly #endpoint: string;

  constructor(options: { region: string; endpoint?: string }) {
    this.#region = options.region;
    this.#endpoint = options.endpoint ?? `https://sts.${options.region}.amazonaws.com`;
  }

  async callerIdentity(): Promise<CallerIdentity> {
    const url = new URL(this.#endpoint);
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const signer = new SignatureV4({ service: 'sts', region: this.#region, credentials: defaultProvider(), sha256: Sha256 });
    let headers: Record<string, string>;
    try {
      const signed = await signer.sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname || '/',
        query: {},
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body,
      });
      // fetch sets Host itself, to the same url.host that was signed.
      headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== 'host'));
    } catch (e) {
      // No credentials anywhere in the chain: the SDK's CredentialsProviderError.
      const err = e as { name?: string; message?: string };
      throw new CallerIdentityError(err.name ?? 'CredentialsProviderError', (err.message ?? String(e)).split('\n')[0]!, e);
    }
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(20_000) });
    } catch (e) {
      throw new CallerIdentityError('NetworkError', `${url.host} could not be reached (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})`, e);
    }
    const xml = await res.text();
    if (!res.ok) throw new CallerIdentityError(tag(xml, 'Code') ?? `HTTP ${res.status}`, tag(xml, 'Message') ?? 'no message');
    const arn = tag(xml, 'Arn');
    const account = tag(xml, 'Account');
    if (!arn || !account) throw new CallerIdentityError('MalformedResponse', 'the answer names no Arn and Account');
    return { arn, account };
  }
}
