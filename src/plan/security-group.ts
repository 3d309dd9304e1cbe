import type { IngressPermission } from '../aws/security-group.js';
import { MANAGED_PREFIX, portRange, type SecurityGroup } from '../schema/security-group.js';
import type { SecurityGroupChange, SecurityGroupRule, SecurityGroupRuleChange } from './model.js';

const ports = (from: number, to: number) => (from === -1 ? 'all' : from === to ? String(from) : `${from}-${to}`);
const key = (p: { protocol: string; from: number; to: number; source: string }) => `${p.protocol} ${p.from}-${p.to} ${p.source}`;

/** The rules the configuration declares, as clawops writes them to EC2. */
export function desiredPermissions(sg: SecurityGroup): IngressPermission[] {
  return sg.ingress.map((r) => ({ protocol: r.protocol, ...portRange(r.port), source: r.cidr, description: `${MANAGED_PREFIX}${r.description}` }));
}

export const shownRule = (p: IngressPermission): SecurityGroupRule => ({ protocol: p.protocol, ports: ports(p.from, p.to), source: p.source, description: p.description });

/** Whether clawops wrote the rule: its description carries the mark. */
export const isManaged = (p: IngressPermission): boolean => p.description.startsWith(MANAGED_PREFIX);

/**
 * Declared rules against the rules EC2 describes: a declared rule missing is authorized; a rule
 * clawops wrote that is no longer declared is revoked; a rule someone else wrote is reported and
 * left alone; a rule of clawops's whose description changed gets the new one in place. Rules match
 * as EC2 matches them: protocol, ports and source, not the description.
 */
export function diffSecurityGroup(sg: SecurityGroup, described: readonly IngressPermission[]): SecurityGroupChange {
  const present = new Map(described.map((p) => [key(p), p]));
  const declared = new Set<string>();
  const rules: SecurityGroupRuleChange[] = [];
  for (const want of desiredPermissions(sg)) {
    declared.add(key(want));
    const have = present.get(key(want));
    if (!have) rules.push({ ...shownRule(want), action: 'authorize', reason: 'not in the group' });
    else if (!isManaged(have)) rules.push({ ...shownRule(want), action: 'no-op', reason: `in the group, set by hand ("${have.description}"); left as it is` });
    else if (have.description !== want.description) rules.push({ ...shownRule(want), action: 'describe', was: have.description, reason: 'in the group with another description' });
    else rules.push({ ...shownRule(want), action: 'no-op', reason: 'in the group' });
  }
  const unmanaged: SecurityGroupRule[] = [];
  for (const have of described) {
    if (declared.has(key(have))) continue;
    if (isManaged(have)) rules.push({ ...shownRule(have), action: 'revoke', reason: 'written by clawops, no longer in the configuration' });
    else unmanaged.push(shownRule(have));
  }
  return { id: sg.id, region: sg.region, action: 'compared', reasons: [], rules, unmanaged };
}
