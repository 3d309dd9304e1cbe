/**
 * What a proxy command costs a run, on a real test host (scripts/testhost/) that clawops has
 * deployed to: ec2 is reached through `aws ssm start-session …` as its ProxyCommand, and this is
 * the same path with a local stdio relay (test/support/stdio-relay.mjs, as `nc %h %p` is) in place
 * of the SSM session, so it measures what clawops adds, not AWS's network:
 *
 *  - a no-change `clawops plan --env testhost` through the proxy command, beside the same plan over
 *    its own TCP connection;
 *  - beside `ssh … true` through the same proxy command (OpenSSH's ProxyCommand), and `ssh … true`
 *    over TCP, the floor of any run.
 *
 * The relay is a Node process: starting it is most of what the proxy adds here, as starting the
 * AWS CLI and the plugin is on ec2.
 *
 * Interleaved A B A B, a round of each in turn, so that all four see the same machine load; each
 * plan a fresh process, as a user runs it, on Node 24 as the workflows run it. Prints medians,
 * every run and the ratios; asserts nothing. Run: npx tsx bench/proxy-plan.ts  (root, or sudo)
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { NODE24 } from '../scripts/tools.js';
import { median, timed } from './timing.js';
import { ENV, startE2E } from '../test/e2e/support.js';
import { relayProxyCommand } from '../test/support/relay.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const run = promisify(execFile);



const e = await startE2E('bench-proxy', { via: 'tcp' });
try {
  console.log('first apply (runtime, files, units)...');
  const applied = await e.cli(['apply', '--env', ENV, '--no-smoke']);
  if (applied.code !== 0) throw new Error(`apply: exit ${applied.code}\n${applied.stderr}`);

  const file = 'config/environments/testhost.yaml';
  const proxy = relayProxyCommand();
  // The same environment, its stream through the relay: one line more under target.
  let direct: (() => Promise<void>) | undefined;
  const useProxy = async (on: boolean) => {
    if (on && !direct) direct = await e.editRepo(file, (t) => t.replace(/^(  hostKey: .*)$/m, `$1\n  proxyCommand: ${JSON.stringify(proxy)}`));
    if (!on && direct) {
      await direct();
      direct = undefined;
    }
  };
  const plan = async (viaProxy: boolean) => {
    await useProxy(viaProxy);
    const c = e.cliCommand(['plan', '--env', ENV, '--detailed-exitcode'], 'bench');
    return timed(NODE24, c.args, { env: c.env });
  };
  const sshArgs = [...e.host.sshOptions, `${e.host.user}@${e.host.host}`, 'true'];
  const ssh = (viaProxy: boolean) => timed('ssh', viaProxy ? ['-o', `ProxyCommand=${proxy}`, ...sshArgs] : sshArgs);

  // Unmeasured first runs: Node's compile cache, ssh's first connection.
  await plan(false);
  await plan(true);
  await ssh(true);
  const kinds = {
    planProxy: () => plan(true),
    planDirect: () => plan(false),
    sshProxy: () => ssh(true),
    sshDirect: () => ssh(false),
  };
  const xs = Object.fromEntries(Object.keys(kinds).map((k) => [k, [] as number[]])) as Record<keyof typeof kinds, number[]>;
  for (let i = 0; i < RUNS; i++) for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) xs[k].push(await kinds[k]());
  await useProxy(false);

  const node = (await run(NODE24, ['-p', 'process.versions.node'])).stdout.trim();
  const label = {
    planProxy: `clawops plan (no changes) through the proxy command`,
    planDirect: `clawops plan (no changes) over TCP`,
    sshProxy: 'ssh … true through the same proxy command',
    sshDirect: 'ssh … true over TCP',
  } as const;
  const m = Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, median(v)])) as Record<keyof typeof kinds, number>;
  console.log(`\n== ${RUNS} rounds, interleaved; Node ${node}; test host ${e.host.host}:${e.host.port}`);
  for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) {
    console.log(`${label[k].padEnd(52)} median ${(m[k] / 1000).toFixed(3).padStart(7)} s   (${xs[k].map((x) => (x / 1000).toFixed(2)).join(' ')})`);
  }
  console.log('');
  console.log(`plan through the proxy / plan over TCP          ${(m.planProxy / m.planDirect).toFixed(2)}x   (+${((m.planProxy - m.planDirect) / 1000).toFixed(3)} s)`);
  console.log(`plan through the proxy / ssh true through it    ${(m.planProxy / m.sshProxy).toFixed(2)}x`);
  console.log(`ssh true through the proxy / ssh true over TCP  ${(m.sshProxy / m.sshDirect).toFixed(2)}x   (+${((m.sshProxy - m.sshDirect) / 1000).toFixed(3)} s)`);
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  await e.stop();
}
