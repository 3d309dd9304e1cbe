import * as z from 'zod';

/**
 * What EC2 accepts in a rule's description: up to 255 characters of a-z, A-Z, 0-9, spaces and
 * ._-:/()#,@[]+=&;{}!$* (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html).
 */
export const RULE_DESCRIPTION_CHARS = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
export const RULE_DESCRIPTION_MAX = 255;

/**
 * The mark of a rule clawops manages: its description starts with it. A rule without it was set
 * by someone else; clawops reports it and never revokes it.
 */
export const MANAGED_PREFIX = 'clawops: ';

const CidrV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const CidrV6 = /^[0-9a-f:]*:[0-9a-f:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;

export const IngressRuleSchema = z.strictObject({
  protocol: z.enum(['tcp', 'udp']).describe('The IP protocol the rule allows.'),
  port: z
    .union([
      z.int().min(0).max(65535),
      z.string().regex(/^\d{1,5}-\d{1,5}$/, { error: 'expected a port such as 443 or a range such as "8000-8010"' }),
    ])
    .describe('One port (443) or an inclusive range ("8000-8010").'),
  cidr: z
    .string()
    .refine((s) => CidrV4.test(s) || CidrV6.test(s), { error: 'expected an IPv4 or IPv6 CIDR block, such as 203.0.113.7/32 or ::/0' })
    .describe('Where the traffic may come from: an IPv4 or IPv6 CIDR block.'),
  description: z
    .string()
    .trim()
    .min(1, { error: 'expected a description: why the rule exists' })
    .max(RULE_DESCRIPTION_MAX - MANAGED_PREFIX.length, { error: `expected at most ${RULE_DESCRIPTION_MAX - MANAGED_PREFIX.length} characters (EC2 allows ${RULE_DESCRIPTION_MAX}, "${MANAGED_PREFIX}" included)` })
    .regex(RULE_DESCRIPTION_CHARS, { error: 'expected only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* (what EC2 accepts in a rule description)' })
    .describe(`Why the rule exists. clawops writes it to EC2 as "${MANAGED_PREFIX}<description>", which marks the rule as its own.`),
});
export type IngressRule = z.infer<typeof IngressRuleSchema>;

export const SecurityGroupSchema = z
  .strictObject({
    id: z.string().regex(/^sg-[0-9a-f]{8}([0-9a-f]{9})?$/, { error: 'expected a security group id such as sg-0123456789abcdef0' }),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region such as us-east-2' }),
    ingress: z.array(IngressRuleSchema).describe('The inbound rules clawops keeps on the group; rules it did not write are reported, never revoked.'),
  })
  .describe("The instance's EC2 security group: plan shows, apply reconciles and drift reports its inbound rules.");
export type SecurityGroup = z.infer<typeof SecurityGroupSchema>;

/** A rule's ports as EC2 takes them (FromPort, ToPort). */
export function portRange(port: IngressRule['port']): { from: number; to: number } {
  if (typeof port === 'number') return { from: port, to: port };
  const [from, to] = port.split('-').map(Number) as [number, number];
  return { from, to };
}

/** 0.0.0.0/0 or ::/0: anyone on the internet. */
export const isWorld = (cidr: string): boolean => cidr === '0.0.0.0/0' || cidr === '::/0';

/**
 * An IPv4 block by its network address, as EC2 stores it ("10.0.0.5/8" → "10.0.0.0/8"); other
 * text unchanged. https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html
 */
export function canonicalCidr(cidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return cidr;
  const bits = Number(m[5]);
  const address = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const network = bits === 0 ? 0 : address - (address % 2 ** (32 - bits));
  return `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.')}/${bits}`;
}
