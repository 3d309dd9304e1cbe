/**
 * A real OpenClaw gateway on loopback, deployed the way clawops deploys it: the repository's own
 * config, adjusted in memory (free ports, every provider pointed at a local OpenAI-compatible
 * stand-in, optionally a smoke canary), rendered by clawops for the `local` environment into a
 * throwaway OPENCLAW_STATE_DIR, the three rendered proxies started from their rendered files, then
 * `openclaw gateway run` under the pinned Node 24. Resolves once /readyz says `"ready":true`; throws
 * (never skips) when anything does not start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildProxies } from '../../scripts/build-proxies.js';
import { openclawCommand } from '../../scripts/tools.js';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import type { FileText } from '../../src/config/source.js';
import { envWithValues } from '../../src/render/envfile.js';
import { render } from '../../src/render/render.js';
import { edit, repoFiles } from './repo.js';
import { startOpenAIStandin, type OpenAIStandin } from './openai-standin.js';
import { CANARY, withSmokeCanary } from './smoke-canary.js';

/** The ports a developer's own deployment uses: tests never take them. */
const RESERVED = new Set([18789, 18790, 18791, 18792]);

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (!RESERVED.has(port)) return port;
  }
}

export { CANARY } from './smoke-canary.js';

/** The providers clawops serves through a proxy of their own. */
export type ProxiedProvider = 'gemini' | 'mistral' | 'kimi';

export interface LiveGatewayOptions {
  /** Adds the smoke canary: provider `canary` and agent `smoke` whose primary is the canary model. */
  canary?: boolean;
  /** Moves this model (one already in the chain) to the front; the others keep their order. */
  primary?: string;
  /** Where a proxy sends its requests instead of the OpenAI-compatible stand-in (a native stand-in, say). */
  upstreams?: Partial<Record<ProxiedProvider, string>>;
}

export interface LiveGateway {
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  port: number;
  token: string;
  upstream: OpenAIStandin;
  /** The chain from the repository's config, primary first. */
  chain: string[];
  proxies: { name: string; url: string }[];
  /** Secret values handed to the processes: none may appear in anything a test checks. */
  secretValues: string[];
  /** The value handed out for each secret, by name (a proxy's key is the one it sends upstream). */
  secrets: Readonly<Record<string, string>>;
  /** The OPENCLAW_STATE_DIR clawops rendered into (openclaw.json, gateway.env, proxies/). */
  stateDir: string;
  /** The process id of `openclaw gateway run`. */
  gatewayPid: number;
  /** Milliseconds from spawning the gateway to /readyz ready. */
  readyMs: number;
  output(): string;
  /** What every process printed (the proxies, then the gateway), by process name. */
  outputs(): { name: string; text: string }[];
  /** Stops the gateway only (the proxies and the stand-in keep running). */
  stopGateway(): Promise<void>;
  stop(): Promise<void>;
}

interface Child {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Child {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString('utf8');
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  child.once('error', (err) => (out += `\nspawn error: ${err.message}`));
  return { name, child, output: () => out, exited };
}

async function stopChild(c: Child, graceMs = 15_000): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(timer);
}

async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, died?: () => string | undefined): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const reason = died?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`${what}: not within ${Math.round(deadlineMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const tail = (s: string, n = 40) => s.split('\n').slice(-n).join('\n');

/** The repository's config files, adjusted for a loopback test deployment. */
function testConfigFiles(files: FileText[], ports: { gateway: number; gemini: number; mistral: number; kimi: number }, upstream: string, opts: LiveGatewayOptions): FileText[] {
  const canary = opts.canary === true;
  let out = edit(files, 'config/openclaw.json', (t) => t.replace('"port": 18789', `"port": ${ports.gateway}`));
  out = edit(out, 'config/providers/gemini.yaml', (t) => t.replace('port: 18790', `port: ${ports.gemini}`));
  out = edit(out, 'config/providers/mistral.yaml', (t) => t.replace('port: 18791', `port: ${ports.mistral}`));
  out = edit(out, 'config/providers/kimi.yaml', (t) => t.replace('port: 18792', `port: ${ports.kimi}`));
  const v1 = `${upstream}/v1`;
  out = edit(out, 'config/environments/local.yaml', (t) =>
    `${t}providers:\n` +
    ['deepseek', 'cerebras', 'groq', 'openrouter', ...(canary ? ['canary'] : [])].map((id) => `  ${id}:\n    baseUrl: ${v1}\n`).join('') +
    (['kimi', 'mistral', 'gemini'] as const).map((id) => `  ${id}:\n    upstream: ${opts.upstreams?.[id] ?? v1}\n`).join(''),
  );
  if (opts.primary) {
    // Not `edit`: the model may be the primary already. startLiveGateway checks the loaded chain.
    const primary = opts.primary;
    out = out.map((f) => (f.file === 'config/fallback-chain.yaml' ? { ...f, text: withPrimary(f.text, primary) } : f));
  }
  return canary ? withSmokeCanary(out) : out;
}

/** The chain file's text with `model`'s entry moved to the top of the list. */
function withPrimary(text: string, model: string): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === `- ${model}`);
  if (at < 0) throw new Error(`${model} is not in config/fallback-chain.yaml`);
  const [entry] = lines.splice(at, 1);
  lines.splice(lines.findIndex((l) => /^\s*- /.test(l)), 0, entry!);
  return lines.join('\n');
}

export async function startLiveGateway(opts: LiveGatewayOptions = {}): Promise<LiveGateway> {
  const work = await mkdtemp(join(tmpdir(), 'clawops-live-gw-'));
  const children: Child[] = [];
  let upstream: OpenAIStandin | undefined;
  try {
    upstream = await startOpenAIStandin();
    if (opts.canary) upstream.set(CANARY.modelId, 'unauthorized');
    const ports = { gateway: await freePort(), gemini: await freePort(), mistral: await freePort(), kimi: await freePort() };
    const loaded = loadConfig(testConfigFiles(await repoFiles(), ports, upstream.url, opts));
    if (!loaded.ok) throw new Error(`test config is invalid:\n${loaded.problems.map(formatProblem).join('\n')}`);
    const config = loaded.config;
    if (opts.primary && config.chain[0] !== opts.primary) throw new Error(`the chain starts with ${config.chain[0]}, not ${opts.primary}`);

    const built = await buildProxies(join(work, 'dist'));
    const programs = Object.fromEntries(await Promise.all(built.map(async (b) => [b.kind, await readFile(b.path, 'utf8')] as const)));
    const home = join(work, 'home');
    const state = join(home, '.openclaw');
    await mkdir(state, { recursive: true });
    const desired = render(config, 'local', { home, stateDir: state, proxyPrograms: programs as never });

    const secrets: Record<string, string> = Object.fromEntries(
      Object.keys(config.secrets).map((name) => [name, `canary-${name.toLowerCase().replace(/_/g, '-')}-${randomBytes(8).toString('hex')}`]),
    );
    for (const f of desired.files) {
      await mkdir(dirname(f.path), { recursive: true });
      const content = f.secrets ? envWithValues(f.secrets, (s) => secrets[s]!) : f.content;
      await writeFile(f.path, content, { mode: f.mode });
    }

    // The proxies, as rendered: program, proxy.json and proxy.env side by side.
    const proxies: { name: string; url: string }[] = [];
    for (const p of config.providers) {
      if (!p.proxy) continue;
      const dir = join(state, 'proxies', p.id);
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', [p.apiKeySecret]: secrets[p.apiKeySecret] };
      const c = run(`${p.id}-proxy`, process.execPath, [join(dir, `${p.proxy.kind}-proxy.mjs`), '--config', join(dir, 'proxy.json')], env, dir);
      children.push(c);
      const url = `http://127.0.0.1:${p.proxy.port}`;
      await waitFor(`${p.id} proxy`, 120_000, async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), () =>
        c.child.exitCode !== null ? `exited ${c.child.exitCode}:\n${tail(c.output())}` : undefined,
      );
      proxies.push({ name: p.id, url });
    }

    const token = secrets[config.deployment.gateway.auth.token.secret]!;
    const gatewayEnv: Record<string, string> = {
      HOME: home,
      OPENCLAW_CONFIG_PATH: join(state, 'openclaw.json'),
      OPENCLAW_STATE_DIR: state,
      OPENCLAW_SUPERVISOR_MODE: 'external',
      ...Object.fromEntries(Object.keys(desired.files.find((f) => f.name === 'gateway.env')!.secrets!).map((n) => [n, secrets[n]!])),
    };
    const cmd = openclawCommand(['gateway', 'run'], gatewayEnv);
    const httpUrl = `http://127.0.0.1:${ports.gateway}`;
    let gw: Child;
    let started: number;
    // On a machine loaded by other work OpenClaw can give up on its own 5 s state-lease deadline at
    // startup and exit; that is the machine, not the deployment, so such a start is tried again.
    for (let attempt = 1; ; attempt++) {
      started = Date.now();
      gw = run('gateway', cmd.command, cmd.args, cmd.env, state);
      children.push(gw);
      const g = gw;
      try {
        await waitFor('OpenClaw gateway ready (/readyz)', 300_000, async () => {
          const res = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
          const body = await res.text();
          return /"ready":\s*true/.test(body) ? true : undefined;
        }, () => (g.child.exitCode !== null || g.child.signalCode !== null ? `exited ${g.child.exitCode ?? g.child.signalCode}:\n${tail(g.output())}` : undefined));
        break;
      } catch (err) {
        if (attempt >= 3 || !/state lease heartbeat did not become ready/.test(g.output())) throw err;
        children.splice(children.indexOf(g), 1);
      }
    }
    const readyMs = Date.now() - started;

    const up = upstream;
    return {
      wsUrl: `ws://127.0.0.1:${ports.gateway}`,
      httpUrl,
      port: ports.gateway,
      token,
      upstream: up,
      chain: config.chain,
      proxies,
      secretValues: Object.values(secrets),
      secrets,
      stateDir: state,
      gatewayPid: gw.child.pid!,
      readyMs,
      output: () => gw.output(),
      outputs: () => children.map((c) => ({ name: c.name, text: c.output() })),
      stopGateway: () => stopChild(gw),
      async stop() {
        await Promise.all(children.map((c) => stopChild(c)));
        await up.close();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(children.map((c) => stopChild(c, 3_000)));
    await upstream?.close();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
