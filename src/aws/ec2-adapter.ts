/**
 * The security group port and the instance directory over the EC2 API, and the only importer of
 * @aws-sdk/client-ec2.
 * Credentials come from the SDK's own chain (AWS_* variables, AWS_PROFILE, the instance role,
 * GitHub's OIDC role); AWS_ENDPOINT_URL_EC2 points it elsewhere (a stand-in in tests).
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  UpdateSecurityGroupRuleDescriptionsIngressCommand,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { InstanceDirectoryError, type FoundInstance, type InstanceDirectory } from './instances.js';
import { SecurityGroupError, type IngressPermission, type SecurityGroupPort } from './security-group.js';

/** What a person can do about EC2's errors, by code. */
const HINTS: Record<string, string> = {
  'InvalidGroup.NotFound': 'check securityGroup.id and securityGroup.region in the environment',
  'InvalidGroupId.Malformed': 'check securityGroup.id in the environment',
  UnauthorizedOperation: 'the AWS identity in use lacks the permission (ec2:DescribeSecurityGroups, ec2:AuthorizeSecurityGroupIngress, ec2:RevokeSecurityGroupIngress, ec2:UpdateSecurityGroupRuleDescriptionsIngress)',
  AuthFailure: 'the AWS access key is not valid',
  SignatureDoesNotMatch: 'the AWS secret access key does not match its key id',
  RulesPerSecurityGroupLimitExceeded: 'the group holds as many rules as its quota allows; remove rules or raise the quota',
  'InvalidPermission.Duplicate': 'the rule is already there; plan again',
  'InvalidPermission.NotFound': 'the rule is no longer there; plan again',
};

export class Ec2SecurityGroups implements SecurityGroupPort {
  private readonly client: EC2Client;

  private readonly region: string;

  /** endpoint and credentials are for tests; by default the SDK's chain and AWS's endpoint. */
  constructor(opts: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } }) {
    this.region = opts.region;
    this.client = new EC2Client({ region: opts.region, maxAttempts: 3, ...(opts.endpoint ? { endpoint: opts.endpoint } : {}), ...(opts.credentials ? { credentials: opts.credentials } : {}) });
  }

  async describeIngress(groupId: string): Promise<IngressPermission[]> {
    const res = await this.call('describe', groupId, () => this.client.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })));
    const group = res.SecurityGroups?.find((g) => g.GroupId === groupId);
    if (!group) throw new SecurityGroupError('describe', groupId, this.region, 'InvalidGroup.NotFound', 400, 'EC2 did not return the group');
    return (group.IpPermissions ?? []).flatMap(fromPermission);
  }

  async authorize(groupId: string, rules: readonly IngressPermission[]): Promise<void> {
    if (!rules.length) return;
    await this.call('authorize', groupId, () => this.client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: rules.map(toPermission) })));
  }

  async updateDescriptions(groupId: string, rules: readonly IngressPermission[]): Promise<void> {
    if (!rules.length) return;
    await this.call('update descriptions', groupId, () =>
      this.client.send(new UpdateSecurityGroupRuleDescriptionsIngressCommand({ GroupId: groupId, IpPermissions: rules.map(toPermission) })),
    );
  }

  async revoke(groupId: string, rules: readonly IngressPermission[]): Promise<void> {
    if (!rules.length) return;
    const res = await this.call('revoke', groupId, () => this.client.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: rules.map((r) => toPermission({ ...r, description: '' })) })));
    // EC2 answers a revoke of rules that are not there with success, listing them as unknown.
    const unknown = (res.UnknownIpPermissions ?? []).flatMap(fromPermission);
    if (unknown.length) {
      const what = unknown.map((r) => `${r.protocol} ${r.from === r.to ? r.from : `${r.from}-${r.to}`} from ${r.source}`).join(', ');
      throw new SecurityGroupError('revoke', groupId, this.region, 'InvalidPermission.NotFound', 200, `not in the group: ${what} (${HINTS['InvalidPermission.NotFound']})`);
    }
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(action: SecurityGroupError['action'], groupId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'CredentialsProviderError') {
        throw new SecurityGroupError(action, groupId, this.region, 'NoCredentials', 0, 'no AWS credentials here (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)');
      }
      const status = err.$metadata?.httpStatusCode ?? 0;
      const code = status ? (err.Code ?? err.name ?? 'Error') : 'Network';
      const hint = HINTS[code];
      throw new SecurityGroupError(action, groupId, this.region, code, status, `${(err.message ?? String(e)).replace(/\s+/g, ' ').trim()}${hint ? ` (${hint})` : ''}`);
    }
  }
}

function fromPermission(p: IpPermission): IngressPermission[] {
  const base = { protocol: p.IpProtocol ?? '-1', from: p.FromPort ?? -1, to: p.ToPort ?? -1 };
  return [
    ...(p.IpRanges ?? []).map((r) => ({ ...base, source: r.CidrIp ?? '', description: r.Description ?? '' })),
    ...(p.Ipv6Ranges ?? []).map((r) => ({ ...base, source: r.CidrIpv6 ?? '', description: r.Description ?? '' })),
    ...(p.UserIdGroupPairs ?? []).map((g) => ({ ...base, source: g.GroupId ?? '', description: g.Description ?? '' })),
    ...(p.PrefixListIds ?? []).map((l) => ({ ...base, source: l.PrefixListId ?? '', description: l.Description ?? '' })),
  ];
}

function toPermission(r: IngressPermission): IpPermission {
  const described = r.description ? { Description: r.description } : {};
  const source = r.source.startsWith('sg-')
    ? { UserIdGroupPairs: [{ GroupId: r.source, ...described }] }
    : r.source.startsWith('pl-')
      ? { PrefixListIds: [{ PrefixListId: r.source, ...described }] }
      : r.source.includes(':')
        ? { Ipv6Ranges: [{ CidrIpv6: r.source, ...described }] }
        : { IpRanges: [{ CidrIp: r.source, ...described }] };
  return { IpProtocol: r.protocol, FromPort: r.from, ToPort: r.to, ...source };
}

/**
 * A fleet's hosts by tag, with DescribeInstances: one `tag:Key` filter per tag (instances carrying
 * all of them) and `instance-state-name` running, following NextToken to the last page.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
 */
export class Ec2Instances implements InstanceDirectory {
  private readonly client: EC2Client;

  /** pageSize (MaxResults, 5 to 1000) is for tests; 100 by default. */
  constructor(
    private readonly opts: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; pageSize?: number },
  ) {
    this.client = new EC2Client({ region: opts.region, maxAttempts: 3, ...(opts.endpoint ? { endpoint: opts.endpoint } : {}), ...(opts.credentials ? { credentials: opts.credentials } : {}) });
  }

  async runningWithTags(tags: Readonly<Record<string, string>>): Promise<FoundInstance[]> {
    const Filters = [...Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })), { Name: 'instance-state-name', Values: ['running'] }];
    const found: FoundInstance[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const res = await this.client.send(new DescribeInstancesCommand({ Filters, MaxResults: this.opts.pageSize ?? 100, ...(NextToken ? { NextToken } : {}) }));
        for (const r of res.Reservations ?? []) {
          for (const i of r.Instances ?? []) {
            if (!i.InstanceId) continue;
            const name = i.Tags?.find((t) => t.Key === 'Name')?.Value;
            found.push({
              instanceId: i.InstanceId,
              ...(name ? { name } : {}),
              ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
              ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
              ...(i.Placement?.AvailabilityZone ? { availabilityZone: i.Placement.AvailabilityZone } : {}),
            });
          }
        }
        NextToken = res.NextToken || undefined;
      } while (NextToken);
    } catch (e) {
      const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'CredentialsProviderError') throw new InstanceDirectoryError(this.opts.region, 'NoCredentials', 0, 'no AWS credentials here (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)');
      const status = err.$metadata?.httpStatusCode ?? 0;
      const code = status ? (err.Code ?? err.name ?? 'Error') : 'Network';
      const hint = code === 'UnauthorizedOperation' ? ' (the AWS identity in use lacks ec2:DescribeInstances)' : '';
      throw new InstanceDirectoryError(this.opts.region, code, status, `${(err.message ?? String(e)).replace(/\s+/g, ' ').trim()}${hint}`);
    }
    return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  close(): void {
    this.client.destroy();
  }
}
