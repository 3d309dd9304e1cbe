// Whether Systems Manager knows the instance and hears from its agent: DescribeInstanceInformation
// (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html).
// A session can only start to an instance whose PingStatus is Online. The port is this interface;
// the adapter (ssm-instances-adapter.ts) is the only code that asks SSM about instances.

export interface ManagedInstance {
  instanceId: string;
  /** Online, ConnectionLost or Inactive. */
  pingStatus: string;
  agentVersion?: string;
  platformName?: string;
}

export interface ManagedInstancesPort {
  /** The instance as SSM knows it, or null when it is not a managed node (no agent has registered it). */
  describe(instanceId: string): Promise<ManagedInstance | null>;
}

/** AWS refused or could not be reached; `code` is AWS's error name (AccessDeniedException, …). */
export class ManagedInstanceError extends Error {
  constructor(
    readonly instanceId: string,
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`SSM DescribeInstanceInformation (${instanceId}): ${code}: ${message}`);
    this.name = 'ManagedInstanceError';
  }
}
