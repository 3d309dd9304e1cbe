/**
 * The narrow interface clawops finds a fleet's hosts through: the running EC2 instances that carry
 * all of some tags. One adapter (ec2-adapter.ts, Ec2Instances) implements it with DescribeInstances;
 * tests above it use a fake.
 */

export interface FoundInstance {
  instanceId: string;
  /** The instance's Name tag, when it has one: for reports only. */
  name?: string;
  privateIp?: string;
  publicIp?: string;
  availabilityZone?: string;
}

export interface InstanceDirectory {
  /** Every running instance carrying all these tags (Key → Value), in instance id order. */
  runningWithTags(tags: Readonly<Record<string, string>>): Promise<FoundInstance[]>;
}

/** A failed DescribeInstances, translated: EC2's code and reason, with the region asked. */
export class InstanceDirectoryError extends Error {
  constructor(
    readonly region: string,
    readonly code: string,
    readonly status: number,
    reason: string,
  ) {
    super(`EC2 DescribeInstances in ${region}: ${code}: ${reason}`);
    this.name = 'InstanceDirectoryError';
  }
}
