/**
 * The one narrow interface clawops talks to an EC2 security group through: read its inbound
 * rules, add rules, remove rules. One adapter (ec2-adapter.ts) implements it over the EC2 API;
 * tests above it use a recording fake.
 */

/** One inbound rule as EC2 holds it: one protocol, one port range, one source. */
export interface IngressPermission {
  /** tcp, udp, icmp, or -1 (all). */
  protocol: string;
  from: number;
  to: number;
  /** An IPv4 or IPv6 CIDR block, or for a rule that names no CIDR its source (sg-…, pl-…). */
  source: string;
  /** The rule's description; empty when it has none. */
  description: string;
}

export interface SecurityGroupPort {
  /** The group's inbound rules, one per source. */
  describeIngress(groupId: string): Promise<IngressPermission[]>;
  /** Adds the rules, each with its description. */
  authorize(groupId: string, rules: readonly IngressPermission[]): Promise<void>;
  /** Gives rules that are there their new descriptions (matched by protocol, ports and source). */
  updateDescriptions(groupId: string, rules: readonly IngressPermission[]): Promise<void>;
  /** Removes the rules (matched by protocol, ports and source, as EC2 matches them). */
  revoke(groupId: string, rules: readonly IngressPermission[]): Promise<void>;
}

/** A failed EC2 call, translated: what was asked, of which group, and EC2's code and reason. */
export class SecurityGroupError extends Error {
  constructor(
    readonly action: 'describe' | 'authorize' | 'revoke' | 'update descriptions',
    readonly groupId: string,
    readonly region: string,
    /** EC2's error code (InvalidGroup.NotFound, UnauthorizedOperation…), or NoCredentials, or Network. */
    readonly code: string,
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    reason: string,
  ) {
    super(`EC2 security group ${groupId} (${region}): ${action}: ${code}: ${reason}`);
    this.name = 'SecurityGroupError';
  }

  /** No AWS credentials were found here: the group cannot be compared, which is not a failure of the group. */
  get noCredentials(): boolean {
    return this.code === 'NoCredentials';
  }
}
