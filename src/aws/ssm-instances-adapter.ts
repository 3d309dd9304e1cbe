// The adapter for SSM's managed-node inventory, through @aws-sdk/client-ssm. Credentials, and an
// endpoint other than AWS's (AWS_ENDPOINT_URL_SSM), come from the SDK's own chain.
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ManagedInstanceError, type ManagedInstance, type ManagedInstancesPort } from './managed-instance.js';

export class SsmManagedInstances implements ManagedInstancesPort {
  readonly #region: string;

  constructor(options: { region: string }) {
    this.#region = options.region;
  }

  async describe(instanceId: string): Promise<ManagedInstance | null> {
    const client = new SSMClient({ region: this.#region, maxAttempts: 3 });
    try {
      const res = await client.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
      const found = (res.InstanceInformationList ?? []).find((i) => i.InstanceId === instanceId);
      if (!found) return null;
      return {
        instanceId,
        pingStatus: found.PingStatus ?? 'unknown',
        ...(found.AgentVersion ? { agentVersion: found.AgentVersion } : {}),
        ...(found.PlatformName ? { platformName: `${found.PlatformName}${found.PlatformVersion ? ` ${found.PlatformVersion}` : ''}` } : {}),
      };
    } catch (e) {
      const err = e as { name?: string; message?: string };
      // An instance id SSM has never seen is InvalidInstanceId for some callers: not registered.
      if (err.name === 'InvalidInstanceId') return null;
      throw new ManagedInstanceError(instanceId, err.name ?? 'Error', (err.message ?? String(e)).split('\n')[0]!, e);
    } finally {
      client.destroy();
    }
  }
}
