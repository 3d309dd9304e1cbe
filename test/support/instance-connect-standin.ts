// A local stand-in of the EC2 Instance Connect API (SendSSHPublicKey) that says no as AWS does:
// every request must be signed with Signature Version 4 by the one test access key, and the body
// must pass the documented validation. Pushed keys are kept with their expiry for a test (or an
// AuthorizedKeysCommand) to read.
//
// Sources:
// - The operation, its parameters' lengths and patterns, its response and errors:
//   https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html
// - Errors common to all actions (IncompleteSignature, RequestExpired, UnrecognizedClientException
//   for an unknown access key, …), and the JSON error body (__type, message):
//   https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/CommonErrors.html
//   A wrong signature is InvalidSignatureException (403), as AWS's JSON-protocol services answer it.
// - Signature Version 4 (canonical request, string to sign, signing key):
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
// - "The key remains for 60 seconds": the same API reference page.
// - What the instance asks, from its AuthorizedKeysCommand (the ec2-instance-connect package's
//   eic_run_authorized_keys): the instance metadata path
//   /latest/meta-data/managed-ssh-keys/active-keys/<user>/, one key a line. Served here too, for
//   the instance `imdsFor`, so that a test host's sshd can ask it.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { checkSigV4, type SigV4Refusal } from './sigv4.js';

export const TEST_ACCESS_KEY_ID = 'AKIDCLAWOPSTESTKEY01';
export const TEST_SECRET_ACCESS_KEY = 'clawops-test-secret-access-key/0123456789';
const SERVICE = 'ec2-instance-connect';
const TARGET = 'AWSEC2InstanceConnectService.SendSSHPublicKey';
// SigV4: a request is refused when its X-Amz-Date is more than 5 minutes from the server's clock.
const CLOCK_SKEW_MS = 5 * 60_000;

export interface PushedKey {
  instanceId: string;
  osUser: string;
  publicKey: string;
  availabilityZone?: string;
  expiresAt: number;
}

export interface InstanceConnectStandIn {
  url: string;
  /** Every key accepted so far, in order. */
  pushed: PushedKey[];
  /** The keys still valid now for an instance and user: what the instance would accept. */
  validKeys(instanceId: string, osUser: string): string[];
  /** Instance ids that exist; any other is EC2InstanceNotFoundException. */
  instances: Set<string>;
  close(): Promise<void>;
}

export async function startInstanceConnectStandIn(options: {
  region: string;
  keyLifetimeMs?: number;
  instances: string[];
  onPush?: (key: PushedKey) => Promise<void> | void;
  /** The address to listen on (127.0.0.1 by default; a test host's link address for its sshd). */
  listen?: string;
  /** The instance whose metadata (active keys) the stand-in serves. */
  imdsFor?: string;
  /** The OS users the caller's policy allows (its condition ec2:osuser); any other is AccessDeniedException. All when absent. */
  osUsers?: string[];
}): Promise<InstanceConnectStandIn> {
  const lifetime = options.keyLifetimeMs ?? 60_000;
  const pushed: PushedKey[] = [];
  const instances = new Set(options.instances);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks), res).catch((err: unknown) => fail(res, 500, 'ServiceException', String(err)));
    });
  });

  async function handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const imds = /^\/latest\/meta-data\/managed-ssh-keys\/active-keys\/([^/]+)\/$/.exec(req.url ?? '');
    if (req.method === 'GET' && imds && options.imdsFor) {
      const keys = validKeys(options.imdsFor, decodeURIComponent(imds[1]!));
      res.writeHead(keys.length ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(keys.map((k) => `${k}\n`).join(''));
      return;
    }
    if (req.method !== 'POST' || (req.url ?? '/') !== '/') return fail(res, 404, 'UnknownOperationException', 'unknown path');
    const auth = verifySignature(req, body, options.region);
    if (auth) return fail(res, auth.status, auth.code, auth.message);
    if (req.headers['x-amz-target'] !== TARGET) return fail(res, 400, 'InvalidAction', `unknown target ${String(req.headers['x-amz-target'])}`);
    if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) return fail(res, 400, 'SerializationException', 'expected application/x-amz-json-1.1');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail(res, 400, 'SerializationException', 'the body is not JSON');
    }
    const invalid = validate(input);
    if (invalid) return fail(res, 400, 'InvalidArgsException', invalid);
    const instanceId = input.InstanceId as string;
    // IAM decides before the service looks: a user outside the policy's ec2:osuser condition is refused.
    if (options.osUsers && !options.osUsers.includes(input.InstanceOSUser as string)) {
      return fail(
        res,
        400,
        'AccessDeniedException',
        `User: arn:aws:sts::123456789012:assumed-role/clawops-operator/doctor is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: arn:aws:ec2:${options.region}:123456789012:instance/${instanceId} because no identity-based policy allows the ec2-instance-connect:SendSSHPublicKey action`,
      );
    }
    if (!instances.has(instanceId)) return fail(res, 400, 'EC2InstanceNotFoundException', `Instance not found: ${instanceId}`);
    const key: PushedKey = {
      instanceId,
      osUser: input.InstanceOSUser as string,
      publicKey: input.SSHPublicKey as string,
      ...(typeof input.AvailabilityZone === 'string' ? { availabilityZone: input.AvailabilityZone } : {}),
      expiresAt: Date.now() + lifetime,
    };
    pushed.push(key);
    await options.onPush?.(key);
    const requestId = randomUUID();
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId });
    res.end(JSON.stringify({ RequestId: requestId, Success: true }));
  }

  const validKeys = (instanceId: string, osUser: string): string[] =>
    pushed.filter((k) => k.instanceId === instanceId && k.osUser === osUser && k.expiresAt > Date.now()).map((k) => k.publicKey);
  const address = options.listen ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${address}:${port}`,
    pushed,
    instances,
    validKeys,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The documented constraints of SendSSHPublicKey's parameters; the first one broken, or undefined. */
function validate(input: Record<string, unknown>): string | undefined {
  const rules: { name: string; required: boolean; min: number; max: number; pattern?: RegExp }[] = [
    { name: 'InstanceId', required: true, min: 10, max: 32, pattern: /^i-[a-f0-9]+$/ },
    { name: 'InstanceOSUser', required: true, min: 1, max: 32, pattern: /^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$/ },
    { name: 'SSHPublicKey', required: true, min: 80, max: 4096 },
    { name: 'AvailabilityZone', required: false, min: 6, max: 32, pattern: /^(\w+-){2,3}\d+\w+$/ },
  ];
  for (const r of rules) {
    const v = input[r.name];
    if (v === undefined) {
      if (r.required) return `${r.name} is required`;
      continue;
    }
    if (typeof v !== 'string') return `${r.name} must be a string`;
    if (v.length < r.min || v.length > r.max) return `${r.name} must be between ${r.min} and ${r.max} characters long`;
    if (r.pattern && !r.pattern.test(v)) return `${r.name} must match ${r.pattern.source}`;
  }
  // The key must be a public key the instance's sshd can use: "<type> <base64>[ comment]".
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( .*)?$/.test(input.SSHPublicKey as string)) {
    return 'SSHPublicKey is not a supported public key (ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp*)';
  }
  return undefined;
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  // JSON 1.1 errors: the type in __type (and X-Amzn-ErrorType), the text in message.
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code, 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify({ __type: code, message }));
}

/** The signature check's refusal as this JSON 1.1 service answers it (CommonErrors, above). */
function verifySignature(req: IncomingMessage, body: Buffer, region: string): { status: number; code: string; message: string } | undefined {
  const refused = checkSigV4(req, body, { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY, region, service: SERVICE, maxSkewMs: CLOCK_SKEW_MS });
  if (!refused) return undefined;
  const as: Record<SigV4Refusal['reason'], [number, string]> = {
    malformed: [400, 'IncompleteSignature'],
    'unknown-key': [403, 'UnrecognizedClientException'],
    date: [400, 'IncompleteSignature'],
    expired: [400, 'RequestExpired'],
    scope: [403, 'InvalidSignatureException'],
    'unsigned-headers': [400, 'IncompleteSignature'],
    'payload-hash': [400, 'XAmzContentSHA256Mismatch'],
    signature: [403, 'InvalidSignatureException'],
  };
  const [status, code] = as[refused.reason];
  return { status, code, message: refused.message };
}
