// EC2 Instance Connect, as clawops needs it: push a public key that the instance accepts for one
// user for 60 seconds (https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html).
// The port is this interface; the adapter (instance-connect-sdk.ts) is the only importer of the SDK.
import { ephemeralEd25519Key } from '../transport/ephemeral-key.js';

export interface PushKeyRequest {
  instanceId: string;
  /** The user on the instance the key is for. */
  osUser: string;
  /** `ssh-ed25519 AAAA…` */
  publicKey: string;
  availabilityZone?: string;
}

export interface InstanceConnectPort {
  sendSshPublicKey(request: PushKeyRequest): Promise<void>;
}

/** AWS refused or could not be reached; `code` is AWS's error name (AuthException, …). */
export class InstanceConnectError extends Error {
  constructor(
    readonly instanceId: string,
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`EC2 Instance Connect (${instanceId}): ${code}: ${message}`);
    this.name = 'InstanceConnectError';
  }
}

/**
 * A key pair made for this run, its public half pushed for `osUser`: the private key to log in
 * with, valid on the instance for 60 seconds from now. Nothing is stored.
 */
export async function pushFreshKey(port: InstanceConnectPort, target: Omit<PushKeyRequest, 'publicKey'>): Promise<string> {
  const key = ephemeralEd25519Key(`clawops@${target.instanceId}`);
  await port.sendSshPublicKey({ ...target, publicKey: key.publicKey });
  return key.privateKey;
}
