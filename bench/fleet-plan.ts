/**
 * What a fleet plan costs against one host's, through a link with a fixed network latency: three
 * real test hosts (booted here at once, stopped at the end), each reached through a TCP relay on
 * loopback that holds every chunk LATENCY_MS in each direction (so a round trip costs 2 × LATENCY_MS
 * more than on the bare link). Three kinds, each a whole plan from a fresh connection (connect,
 * gather every fact, diff), as `clawops plan` runs it:
 *   - one:        the plan of one host;
 *   - fleet:      the fleet plan of all three (the hosts asked at once, as `plan` does for a fleet);
 *   - sequential: three single-host plans one after the other.
 * The kinds alternate within each round (one, fleet, sequential, then the reverse), A B A B, so
 * they share the machine's load. Prints medians side by side with the ratios; asserts nothing.
 * The target: a fleet of N hosts costs at most 1.5 × one host.
 * Run: npx tsx bench/fleet-plan.ts [LATENCY_MS]
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fleetPlans } from '../src/cli/fleet-commands.js';
import type { Deployment, HostLink } from '../src/cli/deploy.js';
import { summarize } from '../src/plan/summary.js';
import { render } from '../src/render/render.js';
import { SshTransport } from '../src/transport/ssh.js';
import { FIXED_CONTEXT, repoConfig } from '../test/support/repo.js';
import { startTestHost, type TestHost } from '../test/support/testhost.js';

const LATENCY_MS = Number(process.argv[2] ?? 50);
const ROUNDS = 6;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A TCP relay on loopback to host:port that delays each chunk by `delay` ms, each way, in order. */
function latencyRelay(host: string, port: number, delay: number): Promise<{ port: number; close(): void }> {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host, port });
    upstream.setNoDelay(true);
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delay));
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('error', () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() })));
}

const started = performance.now();
const suffix = randomBytes(3).toString('hex');
const booted = await Promise.allSettled(['a', 'b', 'c'].map((n) => startTestHost(`bench-fleet-${n}-${suffix}`)));
const hosts = booted.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
const relays: { close(): void }[] = [];
try {
  const failed = booted.find((b) => b.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const config = await repoConfig();
  // The production environment's render: what a plan compares each host with.
  const desired = render(config, 'ec2', FIXED_CONTEXT);
  const links: HostLink[] = [];
  for (const h of hosts as TestHost[]) {
    const relay = await latencyRelay(h.host, h.port, LATENCY_MS);
    relays.push(relay);
    const privateKey = await readFile(h.privateKeyPath, 'utf8');
    const hostKey = h.knownHostsLine.split(' ').slice(1, 3).join(' ');
    links.push({ name: h.name, where: `${h.user}@127.0.0.1:${relay.port}`, connect: () => SshTransport.connect({ host: '127.0.0.1', port: relay.port, user: h.user, privateKey, hostKey }) });
  }
  const base = { envName: 'ec2', desired, summary: summarize(config, 'ec2'), secrets: () => undefined, revision: 'bench' };
  const plan = async (hs: HostLink[]) => {
    const out = await fleetPlans({ ...base, hosts: hs } as unknown as Deployment);
    const bad = out.find((g) => 'error' in g);
    if (bad && 'error' in bad) throw new Error(`${bad.host.name}: ${bad.error}`);
  };
  const kinds = {
    one: () => plan([links[0]!]),
    fleet: () => plan(links),
    sequential: async () => {
      for (const l of links) await plan([l]);
    },
  };
  const figures: Record<keyof typeof kinds, number[]> = { one: [], fleet: [], sequential: [] };
  await kinds.fleet(); // warm-up: each host's first facts
  for (let round = 0; round < ROUNDS; round++) {
    const order = (round % 2 ? ['sequential', 'fleet', 'one'] : ['one', 'fleet', 'sequential']) as (keyof typeof kinds)[];
    for (const k of order) {
      const t = performance.now();
      await kinds[k]();
      figures[k].push(performance.now() - t);
    }
  }
  const one = median(figures.one);
  const rows = [
    ['', 'runs', 'median', 'min', 'max', '× one host'],
    ...(Object.keys(kinds) as (keyof typeof kinds)[]).map((k) => [
      k === 'one' ? 'one host' : k === 'fleet' ? `fleet of ${links.length} (at once)` : `${links.length} single-host plans in a row`,
      String(figures[k].length),
      `${median(figures[k]).toFixed(0)} ms`,
      `${Math.min(...figures[k]).toFixed(0)} ms`,
      `${Math.max(...figures[k]).toFixed(0)} ms`,
      `${(median(figures[k]) / one).toFixed(2)}`,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(`\nPlan of a fleet against one host, through a relay adding ${LATENCY_MS} ms each way (fresh connection per plan)`);
  for (const r of rows) console.log(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`);
  const ratio = median(figures.fleet) / one;
  console.log(`\nfleet / one host = ${ratio.toFixed(2)} (target ≤ 1.50: ${ratio <= 1.5 ? 'met' : 'NOT met'}); sequential / fleet = ${(median(figures.sequential) / median(figures.fleet)).toFixed(2)}`);
  console.log(`${ROUNDS} rounds, kinds alternating; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(1)} s (boot included)`);
} finally {
  for (const r of relays) r.close();
  await Promise.allSettled(hosts.map((h) => h.stop()));
}
