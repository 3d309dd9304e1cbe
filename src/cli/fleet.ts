import type { Environment } from '../schema/environment.js';
import { InstanceDirectoryError, type InstanceDirectory } from '../aws/instances.js';
import { UsageError } from './workspace.js';

export type SshTarget = Extract<Environment['target'], { kind: 'ssh' }>;

/** One host of an SSH target: where it is, the key it must show, and its instance for AWS's ways in. */
export interface Member {
  name: string;
  host: string;
  port: number;
  hostKey: string;
  instanceId?: string;
  availabilityZone?: string;
  /** For a report: the instance's Name tag. */
  label?: string;
}

/** Whether the target names several hosts (a list, or instances by tag). */
export const isFleet = (target: Environment['target']): target is SshTarget => target.kind === 'ssh' && (target.hosts !== undefined || target.instances !== undefined);

/**
 * The hosts of an SSH target, in order: its one host, its list, or the running instances with its
 * tags (asked of EC2 at each run). An instance without a pinned key is refused here, before any
 * host is contacted.
 */
export async function members(envName: string, target: SshTarget, directory: () => InstanceDirectory): Promise<Member[]> {
  if (target.hosts) {
    return target.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port ?? target.port, hostKey: h.hostKey, ...(h.instanceId ? { instanceId: h.instanceId } : {}) }));
  }
  if (target.instances) {
    const want = target.instances;
    let found;
    try {
      found = await directory().runningWithTags(want.tag);
    } catch (e) {
      if (e instanceof InstanceDirectoryError) throw new UsageError(`${envName}: target.instances: ${e.message}`);
      throw e;
    }
    const tags = Object.entries(want.tag).map(([k, v]) => `${k}=${v}`).join(', ');
    if (!found.length) throw new UsageError(`${envName}: target.instances: no running instance in ${want.region} carries ${tags}`);
    return found.map((i) => {
      const hostKey = want.hostKeys?.[i.instanceId] ?? target.hostKey;
      if (!hostKey) throw new UsageError(`${envName}: instance ${i.instanceId} (tagged ${tags}) has no pinned host key: add it to target.instances.hostKeys`);
      const address = want.address === 'public' ? i.publicIp : i.privateIp;
      if (!address) throw new UsageError(`${envName}: instance ${i.instanceId} has no ${want.address} address`);
      return {
        name: i.instanceId,
        host: address,
        port: target.port,
        hostKey,
        instanceId: i.instanceId,
        ...(i.availabilityZone ? { availabilityZone: i.availabilityZone } : {}),
        ...(i.name ? { label: i.name } : {}),
      };
    });
  }
  return [
    {
      name: envName,
      host: target.host!,
      port: target.port,
      hostKey: target.hostKey!,
      ...((target.instanceConnect?.instanceId ?? target.via?.ssm?.instanceId) ? { instanceId: (target.instanceConnect?.instanceId ?? target.via?.ssm?.instanceId)! } : {}),
      ...(target.instanceConnect?.availabilityZone ? { availabilityZone: target.instanceConnect.availabilityZone } : {}),
    },
  ];
}
