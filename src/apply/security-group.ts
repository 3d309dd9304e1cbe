import { SecurityGroupError, type IngressPermission, type SecurityGroupPort } from '../aws/security-group.js';
import type { SecurityGroupChange } from '../plan/model.js';
import { desiredPermissions, diffSecurityGroup, isManaged, shownRule } from '../plan/security-group.js';
import type { SecurityGroup } from '../schema/security-group.js';

export interface SecurityGroupInput {
  group: SecurityGroup;
  port: SecurityGroupPort;
}

export interface SecurityGroupPlan {
  change: SecurityGroupChange;
  /** The rules as EC2 described them, for apply to revoke exactly those. */
  described: IngressPermission[];
}

/** The group's rules against the configuration; without AWS credentials here, not compared. */
export async function planSecurityGroup(input: SecurityGroupInput): Promise<SecurityGroupPlan> {
  const { group } = input;
  try {
    const described = await input.port.describeIngress(group.id);
    return { change: diffSecurityGroup(group, described), described };
  } catch (e) {
    if (e instanceof SecurityGroupError && e.noCredentials) {
      return { change: { id: group.id, region: group.region, action: 'unknown', reasons: ['no AWS credentials here (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)'], rules: [], unmanaged: [] }, described: [] };
    }
    throw e;
  }
}

/**
 * Authorizes the declared rules that are missing first, then revokes the rules clawops wrote that
 * are no longer declared: a replaced rule never leaves a moment with neither. Rules clawops did
 * not write are never revoked.
 */
export async function applySecurityGroup(input: SecurityGroupInput, planned: SecurityGroupPlan): Promise<{ authorized: number; revoked: number; described: number }> {
  const { change } = planned;
  if (change.action !== 'compared') return { authorized: 0, revoked: 0, described: 0 };
  const key = (p: { protocol: string; ports: string; source: string }) => `${p.protocol} ${p.ports} ${p.source}`;
  const authorize = new Set(change.rules.filter((r) => r.action === 'authorize').map(key));
  const revoke = new Set(change.rules.filter((r) => r.action === 'revoke').map(key));
  const adding = desiredPermissions(input.group).filter((p) => authorize.has(key(shownRule(p))));
  const removing = planned.described.filter((p) => isManaged(p) && revoke.has(key(shownRule(p))));
  const describe = new Set(change.rules.filter((r) => r.action === 'describe').map(key));
  const describing = desiredPermissions(input.group).filter((p) => describe.has(key(shownRule(p))));
  await input.port.authorize(input.group.id, adding);
  await input.port.updateDescriptions(input.group.id, describing);
  await input.port.revoke(input.group.id, removing);
  return { authorized: adding.length, revoked: removing.length, described: describing.length };
}
