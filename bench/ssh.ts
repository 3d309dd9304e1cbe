/**
 * What one command costs over SSH, against a real test host (booted here, stopped at the end):
 *   - SshTransport.run(['true']) on its one open connection, TCP_NODELAY on (what clawops uses);
 *   - the same with Nagle's algorithm left on (ssh2's default), to show why the socket is ours;
 *   - both again for `bash -s` with a one-line script on stdin (how apply sends scripts), where
 *     Nagle holds the EOF back behind the unacknowledged script data;
 *   - bare OpenSSH `ssh -i key -p port -o UserKnownHostsFile=<pinned> user@host true`: a whole new
 *     connection per command, the baseline the plan benchmark compares against;
 *   - SshTransport.connect itself (TCP + handshake + login), for scale.
 * Commands run back to back in batches, as apply runs them: after an idle pause Linux ACKs at once
 * ("quick ACK" mode) and Nagle costs nothing, so interleaving run by run would hide its cost.
 * Batches of each kind alternate, so that all kinds share the same machine load.
 * Prints the figures; it asserts nothing. Run: npx tsx bench/ssh.ts
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { SshTransport, type SshConnectOptions } from '../src/transport/ssh.js';
import { startTestHost } from '../test/support/testhost.js';

// 3 rounds of 10 back-to-back runs: 30 runs of each kind.
const ROUNDS = 3;
const BATCH = 10;
const WARMUP = 5;
const CONNECTS = 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const started = performance.now();
const host = await startTestHost('bench-ssh');
try {
  const options: SshConnectOptions = {
    host: host.host,
    port: host.port,
    user: host.user,
    privateKey: await readFile(host.privateKeyPath, 'utf8'),
    hostKey: host.knownHostsLine.split(' ').slice(1).join(' '),
  };
  const opensshArgs = [
    '-i', host.privateKeyPath,
    '-p', String(host.port),
    '-o', `UserKnownHostsFile=${host.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    `${host.user}@${host.host}`,
    'true',
  ];
  const openssh = () => promisify(execFile)('ssh', opensshArgs);

  const noDelay = await SshTransport.connect(options);
  const nagle = await SshTransport.connect({ ...options, noDelay: false });
  const figures = {
    noDelay: [] as number[],
    nagle: [] as number[],
    scriptNoDelay: [] as number[],
    scriptNagle: [] as number[],
    openssh: [] as number[],
    connect: [] as number[],
  };
  const script = { stdin: 'true\n' };
  try {
    for (let i = 0; i < WARMUP; i++) {
      await noDelay.run(['true']);
      await nagle.run(['true']);
    }
    await openssh();
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < BATCH; i++) figures.noDelay.push(await time(() => noDelay.run(['true'])));
      for (let i = 0; i < BATCH; i++) figures.nagle.push(await time(() => nagle.run(['true'])));
      for (let i = 0; i < BATCH; i++) figures.scriptNoDelay.push(await time(() => noDelay.run(['bash', '-s'], script)));
      for (let i = 0; i < BATCH; i++) figures.scriptNagle.push(await time(() => nagle.run(['bash', '-s'], script)));
      for (let i = 0; i < BATCH; i++) figures.openssh.push(await time(openssh));
    }
    for (let i = 0; i < CONNECTS; i++) {
      figures.connect.push(await time(async () => (await SshTransport.connect(options)).close()));
    }
  } finally {
    await noDelay.close();
    await nagle.close();
  }

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const rows = [
    ['', 'runs', 'median', 'p90', 'min'],
    ...(
      [
        ["run(['true']), TCP_NODELAY on (clawops)", figures.noDelay],
        ["run(['true']), Nagle on (ssh2's default)", figures.nagle],
        ["run(['bash', '-s']) + script on stdin, TCP_NODELAY on", figures.scriptNoDelay],
        ["run(['bash', '-s']) + script on stdin, Nagle on", figures.scriptNagle],
        ['ssh ... user@host true (OpenSSH, new connection)', figures.openssh],
        ['SshTransport.connect + close', figures.connect],
      ] as const
    ).map(([name, xs]) => [name, String(xs.length), ms(median(xs)), ms(quantile(xs, 0.9)), ms(Math.min(...xs))]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(`\nSSH round trips to a test host (${host.host}:${host.port}, systemd-nspawn, own network namespace)`);
  for (const r of rows) console.log(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`);
  console.log(
    `\n${WARMUP} warm-up runs, then ${ROUNDS} rounds of ${BATCH} back-to-back runs of each kind; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')};` +
      ` total ${((performance.now() - started) / 1000).toFixed(1)} s (host boot included)`,
  );
} finally {
  await host.stop();
}
