/**
 * A stand-in for AWS Systems Manager's Parameter Store over real HTTP, speaking the AWS JSON 1.1
 * protocol the SDK uses: POST / with `X-Amz-Target: AmazonSSM.<Operation>`, each request signed
 * with Signature Version 4 by a key it knows (test/support/sigv4.ts; a key with a session token
 * must send it as X-Amz-Security-Token). It answers:
 *
 * - GetParameters: 1 to 10 names; a decrypted value only when asked WithDecryption; unknown names
 *   in InvalidParameters; each parameter with its Version.
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html
 * - DescribeParameters: metadata only (Name, Type, Version, never a Value), filtered by
 *   ParameterFilters Key=Name Option=Equals with 1 to 50 values, MaxResults 1 to 50, NextToken pages.
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html
 *
 * Beside it, on a server of its own, the EC2 instance metadata service as IMDSv2 serves an
 * instance role's credentials: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
 * (1 to 21600) gives a token; every GET must carry it as X-aws-ec2-metadata-token (401 without);
 * /latest/meta-data/iam/security-credentials/ lists the role, …/<role> its temporary keys.
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
 *
 * Every request is recorded, so a test can check what the real client sent.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkSigV4 } from './sigv4.js';

export interface SsmRequest {
  target: string;
  authorization: string;
  /** The access key the request was signed with. */
  accessKeyId: string;
  body: { Names?: string[]; WithDecryption?: boolean; ParameterFilters?: { Key: string; Option?: string; Values?: string[] }[]; MaxResults?: number; NextToken?: string };
}

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SsmStandin {
  url: string;
  /** The instance metadata service (IMDSv2), serving `role`'s credentials. */
  imdsUrl: string;
  role: string;
  /** The temporary credentials the metadata service hands out (signed requests with them are accepted). */
  instanceKey: AwsKey;
  requests: SsmRequest[];
  /** Metadata service requests: method, path, and whether they carried a valid token. */
  imdsRequests: { method: string; path: string; token: boolean }[];
  /** SecureString parameters by full name (version 1 unless rotated). */
  parameters: Map<string, string>;
  /** A new value for a parameter: its version goes up by one, as PutParameter with Overwrite does. */
  rotate(name: string, value: string): void;
  versionOf(name: string): number | undefined;
  /** The next request fails with this AWS error (status 400). */
  failNext(type: string, message: string): void;
  close(): Promise<void>;
}

export interface SsmStandinOptions {
  /** The address both servers listen on (default 127.0.0.1): a test host's runner-side address to be reachable from it. */
  host?: string;
  /** Long-term keys accepted besides the instance role's. */
  keys?: AwsKey[];
}

export async function startSsmStandin(opts: SsmStandinOptions = {}): Promise<SsmStandin> {
  const requests: SsmRequest[] = [];
  const imdsRequests: SsmStandin['imdsRequests'] = [];
  const parameters = new Map<string, string>();
  const versions = new Map<string, number>();
  const role = 'clawops-host';
  const instanceKey: AwsKey = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: `canary-instance-secret-${randomBytes(12).toString('hex')}`,
    sessionToken: `canary-session-token-${randomBytes(24).toString('base64url')}`,
  };
  const keys = [...(opts.keys ?? []), instanceKey];
  const tokens = new Set<string>();
  let failure: { type: string; message: string } | undefined;
  const host = opts.host ?? '127.0.0.1';

  const ssm = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${requests.length}`, ...headers });
        res.end(JSON.stringify(value));
      };
      const error = (type: string, message: string, status = 400) => send(status, { __type: type, message }, { 'x-amzn-errortype': type });
      let body: SsmRequest['body'];
      try {
        body = JSON.parse(raw.toString('utf8') || '{}') as SsmRequest['body'];
      } catch {
        return error('SerializationException', 'the body is not JSON');
      }
      const keyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
      requests.push({ target, authorization: String(req.headers.authorization ?? ''), accessKeyId: keyId, body });
      // Signed by a key this stand-in knows, for the region the request names (the scope's), as ssm.
      const key = keys.find((k) => k.accessKeyId === keyId);
      const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
      const refused = checkSigV4(req, raw, { accessKeyId: key?.accessKeyId ?? '-', secretAccessKey: key?.secretAccessKey ?? '-', region, service: 'ssm', maxSkewMs: 5 * 60_000 });
      if (refused) {
        const type = refused.reason === 'unknown-key' ? 'UnrecognizedClientException' : refused.reason === 'signature' ? 'InvalidSignatureException' : 'IncompleteSignatureException';
        return error(type, refused.message);
      }
      if (key?.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken) {
        return error('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      if (failure) {
        const f = failure;
        failure = undefined;
        return error(f.type, f.message);
      }
      if (req.method !== 'POST' || req.url !== '/') return error('UnknownOperationException', `no ${target}`);
      const meta = (n: string) => ({ Name: n, Type: 'SecureString', Version: versions.get(n) ?? 1, ARN: `arn:aws:ssm:${region}:123456789012:parameter${n}`, DataType: 'text' });
      if (target === 'AmazonSSM.GetParameters') {
        const names = body.Names ?? [];
        if (names.length < 1 || names.length > 10) return error('ValidationException', `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`);
        const found = names.filter((n) => parameters.has(n));
        return send(200, {
          // Without decryption, SSM returns the ciphertext.
          Parameters: found.map((n) => ({ ...meta(n), Value: body.WithDecryption ? parameters.get(n) : `AQICAH-ciphertext-of-${n}` })),
          InvalidParameters: names.filter((n) => !parameters.has(n)),
        });
      }
      if (target === 'AmazonSSM.DescribeParameters') {
        const max = body.MaxResults ?? 10;
        if (!Number.isInteger(max) || max < 1 || max > 50) return error('ValidationException', `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`);
        let names = [...parameters.keys()].sort();
        for (const f of body.ParameterFilters ?? []) {
          if (f.Key !== 'Name') return error('InvalidFilterKey', `this stand-in filters by Name only, not ${f.Key}`);
          if ((f.Option ?? 'Equals') !== 'Equals') return error('InvalidFilterOption', `this stand-in filters with Equals only, not ${f.Option}`);
          const values = f.Values ?? [];
          if (values.length < 1 || values.length > 50) return error('ValidationException', `1 validation error detected: Value at 'parameterFilters.1.member.values' failed to satisfy constraint: Member must have length less than or equal to 50`);
          names = names.filter((n) => values.includes(n));
        }
        const start = body.NextToken ? Number(Buffer.from(body.NextToken, 'base64url').toString()) : 0;
        const page = names.slice(start, start + max);
        const next = start + max < names.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
        return send(200, { Parameters: page.map((n) => ({ ...meta(n), LastModifiedDate: 1_764_547_200, Tier: 'Standard', Policies: [] })), ...(next ? { NextToken: next } : {}) });
      }
      return error('UnknownOperationException', `no ${target}`);
    });
  });

  const imds = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const token = String(req.headers['x-aws-ec2-metadata-token'] ?? '');
    imdsRequests.push({ method: req.method ?? '', path, token: tokens.has(token) });
    req.resume();
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    };
    if (req.method === 'PUT' && path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return text(400, 'Bad Request');
      // A request forwarded by a proxy is refused (X-Forwarded-For), as IMDSv2 does.
      if (req.headers['x-forwarded-for']) return text(403, 'Forbidden');
      const t = randomBytes(32).toString('base64url');
      tokens.add(t);
      return text(200, t, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (req.method !== 'GET') return text(405, 'Method Not Allowed');
    if (!tokens.has(token)) return text(401, 'Unauthorized');
    if (path === '/latest/meta-data/iam/security-credentials/') return text(200, role);
    if (path === `/latest/meta-data/iam/security-credentials/${role}`) {
      return text(200, JSON.stringify({
        Code: 'Success',
        LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        Type: 'AWS-HMAC',
        AccessKeyId: instanceKey.accessKeyId,
        SecretAccessKey: instanceKey.secretAccessKey,
        Token: instanceKey.sessionToken,
        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      }));
    }
    return text(404, 'Not Found');
  });

  await new Promise<void>((r) => ssm.listen(0, host, r));
  await new Promise<void>((r) => imds.listen(0, host, r));
  return {
    url: `http://${host}:${(ssm.address() as AddressInfo).port}`,
    imdsUrl: `http://${host}:${(imds.address() as AddressInfo).port}`,
    role,
    instanceKey,
    requests,
    imdsRequests,
    parameters,
    rotate(name, value) {
      versions.set(name, parameters.has(name) ? (versions.get(name) ?? 1) + 1 : 1);
      parameters.set(name, value);
    },
    versionOf: (name) => (parameters.has(name) ? (versions.get(name) ?? 1) : undefined),
    failNext: (type, message) => {
      failure = { type, message };
    },
    close: async () => {
      await Promise.all([ssm, imds].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
