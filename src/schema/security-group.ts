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
/** An IPv6 block: an address (RFC 4291 section 2.2 text forms, `::` at most once) and a prefix of 0 to 128. */
const isCidrV6 = (s: string): boolean => {
  const m = /^([0-9A-Fa-f:.]+)\/(12[0-8]|1[01]\d|[1-9]?\d)$/.exec(s);
  return !!m && parseIpv6(m[1]!) !== null;
};

/**
 * The eight 16-bit groups of an IPv6 address in text (RFC 4291 section 2.2: hex groups, one `::`
 * for a run of zero groups, an IPv4 tail); null when it is not one.
 */
export function parseIpv6(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const words = part.split(':');
    for (const [i, w] of words.entries()) {
      if (i === words.length - 1 && w.includes('.')) {
        const v4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.exec(w);
        if (!v4) return null;
        const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
        out.push(a * 256 + b, c * 256 + d);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(w)) out.push(parseInt(w, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const zeros = 8 - head.length - tail.length;
  return zeros >= 1 ? [...head, ...Array<number>(zeros).fill(0), ...tail] : null;
}

/** RFC 5952's one spelling: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(g: readonly number[]): string {
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

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
    .refine((s) => CidrV4.test(s) || isCidrV6(s), { error: 'expected an IPv4 or IPv6 CIDR block, such as 203.0.113.7/32 or ::/0' })
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

/** 0.0.0.0/0 or ::/0, however spelled (0::0/0, 10.0.0.0/0): anyone on the internet. */
export const isWorld = (cidr: string): boolean => ['0.0.0.0/0', '::/0'].includes(canonicalCidr(cidr));

/**
 * A block by its network address, as EC2 stores it ("10.0.0.5/8" → "10.0.0.0/8"); an IPv6 block
 * also in RFC 5952's one spelling ("2001:DB8:0:0::1/32" → "2001:db8::/32"); other text unchanged. https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html
 */
export function canonicalCidr(cidr: string): string {
  const v6 = /^([0-9A-Fa-f:.]+:[0-9A-Fa-f:.]*)\/(\d+)$/.exec(cidr);
  const groups = v6 ? parseIpv6(v6[1]!) : null;
  if (v6 && groups) {
    const bits = Number(v6[2]);
    const network = groups.map((g, i) => {
      const keep = Math.max(0, Math.min(16, bits - 16 * i));
      return keep === 16 ? g : keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
    });
    return `${formatIpv6(network)}/${bits}`;
  }
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return cidr;
  const bits = Number(m[5]);
  const address = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const network = bits === 0 ? 0 : address - (address % 2 ** (32 - bits));
  return `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.')}/${bits}`;
}
