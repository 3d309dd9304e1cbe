/**
 * A stand-in for AWS Systems Manager's Parameter Store over real HTTP, speaking the AWS JSON 1.1
 * protocol the SDK uses: POST / with `X-Amz-Target: AmazonSSM.<Operation>`. It answers
 * GetParameters (a decrypted value only when asked WithDecryption, ≤ 10 names, unknown names in
 * InvalidParameters) and records each request, so a test can check what the real client sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SsmRequest {
  target: string;
  authorization: string;
  body: { Names?: string[]; WithDecryption?: boolean };
}

export interface SsmStandin {
  url: string;
  requests: SsmRequest[];
  /** SecureString parameters by full name. */
  parameters: Map<string, string>;
  /** The next request fails with this AWS error (status 400). */
  failNext(type: string, message: string): void;
  close(): Promise<void>;
}

export async function startSsmStandin(): Promise<SsmStandin> {
  const requests: SsmRequest[] = [];
  const parameters = new Map<string, string>();
  let failure: { type: string; message: string } | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as SsmRequest['body'];
      requests.push({ target, authorization: String(req.headers.authorization ?? ''), body });
      const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${requests.length}`, ...headers });
        res.end(JSON.stringify(value));
      };
      const error = (type: string, message: string) => send(400, { __type: type, message }, { 'x-amzn-errortype': type });
      if (failure) {
        const f = failure;
        failure = undefined;
        return error(f.type, f.message);
      }
      if (req.method !== 'POST' || req.url !== '/' || target !== 'AmazonSSM.GetParameters') return error('UnknownOperationException', `no ${target}`);
      const names = body.Names ?? [];
      if (names.length < 1 || names.length > 10) return error('ValidationException', `1 Validation error detected: Names has ${names.length} members; it must have 1 to 10`);
      const found = names.filter((n) => parameters.has(n));
      send(200, {
        Parameters: found.map((n) => ({
          Name: n,
          Type: 'SecureString',
          // Without decryption, SSM returns the ciphertext.
          Value: body.WithDecryption ? parameters.get(n) : `AQICAH-ciphertext-of-${n}`,
          Version: 1,
          ARN: `arn:aws:ssm:us-east-2:123456789012:parameter${n}`,
          DataType: 'text',
        })),
        InvalidParameters: names.filter((n) => !parameters.has(n)),
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    parameters,
    failNext: (type, message) => {
      failure = { type, message };
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
