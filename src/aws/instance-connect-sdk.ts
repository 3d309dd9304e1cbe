// The EC2 Instance Connect adapter: the only importer of @aws-sdk/client-ec2-instance-connect.
// Credentials, and an endpoint other than AWS's (AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT), come from
// the SDK's own chain, so nothing here takes a key.
import { EC2InstanceConnectClient, SendSSHPublicKeyCommand } from '@aws-sdk/client-ec2-instance-connect';
import { InstanceConnectError, type InstanceConnectPort, type PushKeyRequest } from './instance-connect.js';

export class SdkInstanceConnect implements InstanceConnectPort {
  readonly #region: string;
  readonly #endpoint: string | undefined;

  constructor(options: { region: string; endpoint?: string }) {
    this.#region = options.region;
    this.#endpoint = options.endpoint;
  }

  async sendSshPublicKey(request: PushKeyRequest): Promise<void> {
    const client = new EC2InstanceConnectClient({ region: this.#region, maxAttempts: 3, ...(this.#endpoint ? { endpoint: this.#endpoint } : {}) });
    try {
      const res = await client.send(
        new SendSSHPublicKeyCommand({
          InstanceId: request.instanceId,
          InstanceOSUser: request.osUser,
          SSHPublicKey: request.publicKey,
          ...(request.availabilityZone ? { AvailabilityZone: request.availabilityZone } : {}),
        }),
      );
      if (res.Success !== true) throw new InstanceConnectError(request.instanceId, 'NotAccepted', 'the key was not accepted (Success is not true)');
    } catch (e) {
      if (e instanceof InstanceConnectError) throw e;
      const err = e as { name?: string; message?: string };
      // AWS's message names the instance or the parameter at fault; the key is public anyway.
      throw new InstanceConnectError(request.instanceId, err.name ?? 'Error', (err.message ?? String(e)).split('\n')[0]!, e);
    } finally {
      client.destroy();
    }
  }
}
