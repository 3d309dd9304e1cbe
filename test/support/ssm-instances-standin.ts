// A local stand-in of Systems Manager's DescribeInstanceInformation that says no as SSM does: AWS
// JSON 1.1 (POST /, X-Amz-Target: AmazonSSM.DescribeInstanceInformation), signed with Signature
// Version 4 by the one test access key for service `ssm` in the region, the documented validation.
//
// Sources:
// - The operation: Filters (Key 1-163 characters, one of the documented keys or tag:…; Values 1-100
//   members), MaxResults 5-50, the response's InstanceInformationList (InstanceId, PingStatus
//   Online | ConnectionLost | Inactive, AgentVersion, PlatformName, …), and the errors
//   InvalidFilterKey, InvalidInstanceInformationFilterValue, InvalidNextToken:
//   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
// - Common errors (UnrecognizedClientException, InvalidSignatureException, IncompleteSignature,
//   AccessDeniedException) and the JSON error body (__type, message):
//   https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
// - Signature Version 4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from './instance-connect-standin.js';
import { checkSigV4, type SigV4Refusal } from './sigv4.js';

export interface ManagedNode {
  pingStatus: 'Online' | 'ConnectionLost' | 'Inactive';
  agentVersion?: string;
}

export interface SsmInstancesStandIn {
  url: string;
  /** The managed nodes SSM knows, by instance id; change them between calls. */
  nodes: Map<string, ManagedNode>;
  /** Calls refused with AccessDeniedException, as a role without ssm:DescribeInstanceInformation is. */
  denyAll: boolean;
  close(): Promise<void>;
}

const FILTER_KEYS = new Set(['AgentVersion', 'InstanceIds', 'PingStatus', 'PlatformTypes', 'ActivationIds', 'IamRole', 'ResourceType', 'AssociationStatus']);

export async function startSsmInstancesStandIn(options: { region: string }): Promise<SsmInstancesStandIn> {
  const nodes = new Map<string, ManagedNode>();
  const self: SsmInstancesStandIn = {
    url: '',
    nodes,
    denyAll: false,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || (req.url ?? '/') !== '/') return fail(res, 404, 'UnknownOperationException', 'unknown path');
      const refused = checkSigV4(req, body, { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY, region: options.region, service: 'ssm', maxSkewMs: 5 * 60_000 });
      if (refused) {
        const as: Record<SigV4Refusal['reason'], [number, string]> = {
          malformed: [400, 'IncompleteSignature'],
          'unknown-key': [400, 'UnrecognizedClientException'],
          date: [400, 'IncompleteSignature'],
          expired: [400, 'RequestExpired'],
          scope: [400, 'InvalidSignatureException'],
          'unsigned-headers': [400, 'IncompleteSignature'],
          'payload-hash': [400, 'IncompleteSignature'],
          signature: [400, 'InvalidSignatureException'],
        };
        const [status, code] = as[refused.reason];
        return fail(res, status, code, refused.message);
      }
      if (req.headers['x-amz-target'] !== 'AmazonSSM.DescribeInstanceInformation') return fail(res, 400, 'UnknownOperationException', `no ${String(req.headers['x-amz-target'])}`);
      if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) return fail(res, 400, 'SerializationException', 'expected application/x-amz-json-1.1');
      if (self.denyAll) {
        return fail(res, 400, 'AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/clawops-operator/doctor is not authorized to perform: ssm:DescribeInstanceInformation on resource: arn:aws:ssm:${options.region}:123456789012:* because no identity-based policy allows the ssm:DescribeInstanceInformation action`);
      }
      let input: { Filters?: { Key?: string; Values?: string[] }[]; MaxResults?: number };
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as typeof input;
      } catch {
        return fail(res, 400, 'SerializationException', 'the body is not JSON');
      }
      if (input.MaxResults !== undefined && (input.MaxResults < 5 || input.MaxResults > 50)) {
        return fail(res, 400, 'ValidationException', `1 validation error detected: Value '${input.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50`);
      }
      let ids = [...nodes.keys()];
      for (const f of input.Filters ?? []) {
        if (!f.Key || !(FILTER_KEYS.has(f.Key) || f.Key.startsWith('tag:')) || f.Key.length > 163) return fail(res, 400, 'InvalidFilterKey', `The specified key is not valid: ${f.Key}`);
        if (!f.Values || f.Values.length < 1 || f.Values.length > 100) return fail(res, 400, 'InvalidInstanceInformationFilterValue', 'Values must have 1 to 100 members');
        if (f.Key === 'InstanceIds') ids = ids.filter((id) => f.Values!.includes(id));
        if (f.Key === 'PingStatus') ids = ids.filter((id) => f.Values!.includes(nodes.get(id)!.pingStatus));
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
      res.end(
        JSON.stringify({
          InstanceInformationList: ids.map((id) => ({
            InstanceId: id,
            PingStatus: nodes.get(id)!.pingStatus,
            LastPingDateTime: Date.now() / 1000,
            AgentVersion: nodes.get(id)!.agentVersion ?? '3.3.1142.0',
            IsLatestVersion: false,
            PlatformType: 'Linux',
            PlatformName: 'Ubuntu',
            PlatformVersion: '24.04',
            ResourceType: 'EC2Instance',
          })),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code, 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify({ __type: code, message }));
}
