/**
 * A stand-in for the EC2 Query API over real HTTP, for the security group calls clawops makes:
 * DescribeSecurityGroups, AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress. It speaks the
 * wire the SDK speaks (POST / form-encoded `Action=…&Version=2016-11-15`, XML answers in the EC2
 * namespace) and refuses what EC2 refuses, each rule with its source:
 *
 * - Every request is signed with SigV4 (service ec2, the stand-in's region), checked as AWS checks
 *   it: canonical request, string to sign, the HMAC chain of the secret key. An unknown key is
 *   AuthFailure (401); a wrong signature SignatureDoesNotMatch (403).
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html
 * - Errors are `<Response><Errors><Error><Code>…` with a 4xx status.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
 * - An unknown group is InvalidGroup.NotFound; a rule already there InvalidPermission.Duplicate;
 *   a missing permission UnauthorizedOperation (403).
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
 * - A description is up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html
 * - At most 60 inbound rules per group, counted apart for IPv4 and IPv6
 *   (RulesPerSecurityGroupLimitExceeded). https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
 * - An IPv4 block is kept by its network address (100.68.0.18/18 becomes 100.68.0.0/18), and
 *   another spelling of a block already there is a duplicate.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html
 * - Revoking a rule that is not there is no error: the answer lists it as unknownIpPermissionSet.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RevokeSecurityGroupIngress.html
 * - UpdateSecurityGroupRuleDescriptionsIngress replaces the description of rules that are there,
 *   matched by protocol, ports and source; a rule that is not there is InvalidPermission.NotFound,
 *   and the description follows the same characters rule as above.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_UpdateSecurityGroupRuleDescriptionsIngress.html
 * - DescribeInstances: `Filter.N.Name` / `Filter.N.Value.M`; an instance matches when every filter
 *   matches one of its values (`tag:Key` the tag's value, `instance-state-name` pending | running |
 *   shutting-down | terminated | stopping | stopped; `*` and `?` wildcards); any other filter name is
 *   InvalidParameterValue. MaxResults is 5 to 1000 and cannot be combined with InstanceId.N
 *   (InvalidParameterCombination); a page ends with nextToken while instances remain, and a token
 *   this service did not hand out is InvalidPaginationToken. Answers are reservationSet > item >
 *   instancesSet > item with instanceState, privateIpAddress, ipAddress, placement and tagSet.
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkSigV4 } from './sigv4.js';

export interface StandinRule {
  protocol: string;
  from: number;
  to: number;
  /** CIDR (v4 or v6). */
  source: string;
  description: string;
}

export interface StandinInstance {
  instanceId: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  tags: Record<string, string>;
  privateIp?: string;
  publicIp?: string;
  availabilityZone?: string;
}

export interface Ec2Request {
  action: string;
  params: URLSearchParams;
}

export interface Ec2Standin {
  url: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Inbound rules by group id; a group not here does not exist. */
  groups: Map<string, StandinRule[]>;
  /** Signed, well-formed requests, in order. */
  requests: Ec2Request[];
  /** Actions the caller's identity may not call (UnauthorizedOperation). */
  denied: Set<string>;
  /** Inbound rules a group may hold per address family (60 by default). */
  rulesPerGroup: number;
  /** The account's instances, for DescribeInstances. */
  instances: StandinInstance[];
  /** Instances per page when the request names no MaxResults (EC2's own default is up to 1000). */
  defaultPageSize: number;
  close(): Promise<void>;
}

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const DESCRIPTION = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{0,255}$/;
/** 100.68.0.18/18 → 100.68.0.0/18, as EC2 stores an IPv4 block. */
function canonical(cidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return cidr;
  const bits = Number(m[5]);
  const n = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const net = bits === 0 ? 0 : n - (n % 2 ** (32 - bits));
  return `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${bits}`;
}
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

class Ec2Fault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startEc2Standin(opts: { region?: string } = {}): Promise<Ec2Standin> {
  const state: Omit<Ec2Standin, 'url' | 'close'> = {
    region: opts.region ?? 'us-east-2',
    accessKeyId: 'AKIASTANDIN0EXAMPLE0',
    secretAccessKey: 'standin/secret/key/for/tests/only/0123456',
    groups: new Map(),
    requests: [],
    denied: new Set(),
    rulesPerGroup: 60,
    instances: [],
    defaultPageSize: 1000,
  };
  const STATE_CODE: Record<StandinInstance['state'], number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const tokens = new Map<string, number>();

  function describeInstances(params: URLSearchParams): string {
    const filters: { name: string; values: RegExp[] }[] = [];
    for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
      const name = params.get(`Filter.${i}.Name`)!;
      if (!name.startsWith('tag:') && name !== 'instance-state-name') throw new Ec2Fault(400, 'InvalidParameterValue', `The filter '${name}' is invalid`);
      const values: RegExp[] = [];
      for (let j = 1; params.has(`Filter.${i}.Value.${j}`); j++) values.push(glob(params.get(`Filter.${i}.Value.${j}`)!));
      filters.push({ name, values });
    }
    const ids = [...params].filter(([k]) => /^InstanceId\.\d+$/.test(k)).map(([, v]) => v);
    const max = params.get('MaxResults');
    if (max !== null && ids.length) throw new Ec2Fault(400, 'InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    if (max !== null && !(Number(max) >= 5 && Number(max) <= 1000)) throw new Ec2Fault(400, 'InvalidParameterValue', `Value (${max}) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
    const token = params.get('NextToken');
    const start = token === null ? 0 : tokens.get(token);
    if (start === undefined) throw new Ec2Fault(400, 'InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');
    const value = (inst: StandinInstance, name: string) => (name === 'instance-state-name' ? inst.state : inst.tags[name.slice(4)]);
    const matching = state.instances.filter(
      (inst) => (!ids.length || ids.includes(inst.instanceId)) && filters.every((f) => { const v = value(inst, f.name); return v !== undefined && f.values.some((re) => re.test(v)); }),
    );
    const size = max === null ? state.defaultPageSize : Number(max);
    const page = matching.slice(start, start + size);
    let next = '';
    if (start + size < matching.length) {
      next = randomUUID();
      tokens.set(next, start + size);
    }
    const item = (inst: StandinInstance, n: number) =>
      `<item><reservationId>r-${(start + n).toString(16).padStart(17, '0')}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet><item>` +
      `<instanceId>${inst.instanceId}</instanceId><imageId>ami-0123456789abcdef0</imageId><instanceState><code>${STATE_CODE[inst.state]}</code><name>${inst.state}</name></instanceState>` +
      `<instanceType>t3.small</instanceType>${inst.availabilityZone ? `<placement><availabilityZone>${inst.availabilityZone}</availabilityZone><tenancy>default</tenancy></placement>` : ''}` +
      `${inst.privateIp ? `<privateIpAddress>${inst.privateIp}</privateIpAddress>` : ''}${inst.publicIp ? `<ipAddress>${inst.publicIp}</ipAddress>` : ''}` +
      `<tagSet>${Object.entries(inst.tags).map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`).join('')}</tagSet></item></instancesSet></item>`;
    return `<reservationSet>${page.map(item).join('')}</reservationSet>${next ? `<nextToken>${next}</nextToken>` : ''}`;
  }

  function verifySignature(req: http.IncomingMessage, body: Buffer): void {
    const refused = checkSigV4(req, body, { accessKeyId: state.accessKeyId, secretAccessKey: state.secretAccessKey, region: state.region, service: 'ec2' });
    if (!refused) return;
    // The Query API answers a key it does not know, or no signature at all, with AuthFailure (401);
    // a signature that does not hold with SignatureDoesNotMatch (403).
    if (refused.reason === 'malformed' || refused.reason === 'unknown-key') throw new Ec2Fault(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
    throw new Ec2Fault(403, 'SignatureDoesNotMatch', refused.message);
  }

  function group(id: string | null): StandinRule[] {
    const rules = id ? state.groups.get(id) : undefined;
    if (!rules) throw new Ec2Fault(400, 'InvalidGroup.NotFound', `The security group '${id ?? ''}' does not exist`);
    return rules;
  }

  function permissions(params: URLSearchParams): StandinRule[] {
    const out: StandinRule[] = [];
    for (let i = 1; params.has(`IpPermissions.${i}.IpProtocol`); i++) {
      const p = (k: string) => params.get(`IpPermissions.${i}.${k}`);
      const base = { protocol: p('IpProtocol')!.toLowerCase(), from: Number(p('FromPort') ?? -1), to: Number(p('ToPort') ?? -1) };
      for (const [list, field] of [['IpRanges', 'CidrIp'], ['Ipv6Ranges', 'CidrIpv6']] as const) {
        for (let j = 1; params.has(`IpPermissions.${i}.${list}.${j}.${field}`); j++) {
          out.push({ ...base, source: canonical(p(`${list}.${j}.${field}`)!), description: p(`${list}.${j}.Description`) ?? '' });
        }
      }
    }
    if (!out.length) throw new Ec2Fault(400, 'MissingParameter', 'The request must contain the parameter ipPermissions');
    return out;
  }

  const same = (a: StandinRule, b: StandinRule) => a.protocol === b.protocol && a.from === b.from && a.to === b.to && a.source === b.source;
  const peer = (r: StandinRule) => `peer: ${r.source}, ${r.protocol.toUpperCase()}, from port: ${r.from}, to port: ${r.to}, ALLOW`;
  const ruleXml = (r: StandinRule) =>
    `<item><ipProtocol>${r.protocol}</ipProtocol><fromPort>${r.from}</fromPort><toPort>${r.to}</toPort><groups/>` +
    (r.source.includes(':')
      ? `<ipRanges/><ipv6Ranges><item><cidrIpv6>${esc(r.source)}</cidrIpv6>${r.description ? `<description>${esc(r.description)}</description>` : ''}</item></ipv6Ranges>`
      : `<ipRanges><item><cidrIp>${esc(r.source)}</cidrIp>${r.description ? `<description>${esc(r.description)}</description>` : ''}</item></ipRanges><ipv6Ranges/>`) +
    '<prefixListIds/></item>';

  function handle(action: string, params: URLSearchParams): string {
    if (state.denied.has(action)) throw new Ec2Fault(403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
    switch (action) {
      case 'DescribeSecurityGroups': {
        const ids = [...params].filter(([k]) => /^GroupId\.\d+$/.test(k)).map(([, v]) => v);
        const items = ids.map((id) => {
          const rules = group(id);
          return `<item><ownerId>123456789012</ownerId><groupId>${id}</groupId><groupName>openclaw</groupName><groupDescription>openclaw</groupDescription><vpcId>vpc-0a1b2c3d</vpcId><ipPermissions>${rules.map(ruleXml).join('')}</ipPermissions><ipPermissionsEgress/></item>`;
        });
        return `<securityGroupInfo>${items.join('')}</securityGroupInfo>`;
      }
      case 'AuthorizeSecurityGroupIngress': {
        const rules = group(params.get('GroupId'));
        const adding = permissions(params);
        for (const r of adding) {
          if (!DESCRIPTION.test(r.description)) {
            throw new Ec2Fault(400, 'InvalidParameterValue', 'Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*');
          }
          if (rules.some((x) => same(x, r)) || adding.filter((x) => same(x, r)).length > 1) {
            throw new Ec2Fault(400, 'InvalidPermission.Duplicate', `the specified rule "${peer(r)}" already exists`);
          }
        }
        for (const v6 of [false, true]) {
          const count = [...rules, ...adding].filter((r) => r.source.includes(':') === v6).length;
          if (count > state.rulesPerGroup) throw new Ec2Fault(400, 'RulesPerSecurityGroupLimitExceeded', 'The maximum number of rules per security group has been reached.');
        }
        rules.push(...adding);
        return '<return>true</return>';
      }
      case 'UpdateSecurityGroupRuleDescriptionsIngress': {
        const rules = group(params.get('GroupId'));
        const updating = permissions(params);
        for (const r of updating) {
          if (!DESCRIPTION.test(r.description)) {
            throw new Ec2Fault(400, 'InvalidParameterValue', 'Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*');
          }
          if (!rules.some((x) => same(x, r))) throw new Ec2Fault(400, 'InvalidPermission.NotFound', `The specified rule does not exist in this security group: ${peer(r)}`);
        }
        for (const r of updating) rules.find((x) => same(x, r))!.description = r.description;
        return '<return>true</return>';
      }
      case 'DescribeInstances':
        return describeInstances(params);
      case 'RevokeSecurityGroupIngress': {
        const rules = group(params.get('GroupId'));
        const unknown: StandinRule[] = [];
        for (const r of permissions(params)) {
          const i = rules.findIndex((x) => same(x, r));
          if (i < 0) unknown.push(r);
          else rules.splice(i, 1);
        }
        return `<return>true</return>${unknown.length ? `<unknownIpPermissionSet>${unknown.map(ruleXml).join('')}</unknownIpPermissionSet>` : ''}`;
      }
      default:
        throw new Ec2Fault(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const requestId = randomUUID();
      try {
        if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          throw new Ec2Fault(400, 'InvalidAction', 'expected a form-encoded POST');
        }
        verifySignature(req, body);
        const params = new URLSearchParams(body.toString('utf8'));
        const action = params.get('Action') ?? '';
        if (params.get('Version') !== '2016-11-15') throw new Ec2Fault(400, 'InvalidParameterValue', `unsupported Version ${params.get('Version')}`);
        state.requests.push({ action, params });
        const inner = handle(action, params);
        res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`);
      } catch (e) {
        const f = e instanceof Ec2Fault ? e : new Ec2Fault(500, 'InternalError', String(e));
        res.writeHead(f.status, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${f.code}</Code><Message>${esc(f.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
