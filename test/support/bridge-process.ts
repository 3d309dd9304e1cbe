/**
 * The edge function run by the real Deno (`deno run --allow-net --allow-env index.ts`) on an
 * ephemeral loopback port, as Supabase's runtime runs it; everything it prints is kept so a test
 * can check no secret ever shows. Also a TCP relay that counts connections, to prove what did and
 * did not reach the gateway, and can black-hole them to make the gateway look slow.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { DENO } from '../../scripts/tools.js';
import { REPO_ROOT, repoConfig } from './repo.js';

const fn = (await repoConfig()).supabase!.function;
/** The function's folder (config/supabase.yaml function.source) and its entrypoint (supabase/config.toml). */
export const BRIDGE_DIR = join(REPO_ROOT, fn.source);
export const BRIDGE_ENTRY = join(BRIDGE_DIR, fn.entrypoint);

export interface BridgeProcess {
  url: string;
  /** The Deno process, for what it costs (bench/bridge-stream.ts reads its CPU time). */
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export function denoEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...extra };
}

/** Starts the bridge under `deno` (default: the current line; DENO_LINES lists every line it must run on). */
export async function startBridge(env: Record<string, string>, deno: string = DENO): Promise<BridgeProcess> {
  if (!existsSync(deno)) throw new Error(`Deno is not installed at ${deno}: run \`bash scripts/tools.sh\` (npm test does)`);
  const child = spawn(deno, ['run', '--allow-net', '--allow-env', BRIDGE_ENTRY], {
    env: denoEnv({ ...env, OPENCLAW_BRIDGE_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    // A ceiling for a loaded machine; a bridge that exits fails at once.
    const timer = setTimeout(() => reject(new Error(`the bridge did not start within 300 s:\n${out}`)), 300_000);
    const check = () => {
      const m = /"msg":"listening","url":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    child.once('error', (err) => reject(err));
    void exited.then((code) => reject(new Error(`the bridge exited (${code}) before listening:\n${out}`)));
  });
  return {
    url,
    pid: child.pid!,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface TcpRelay {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** forward: pass through; blackhole: accept and never answer; refuse: close at once, as a gateway that is restarting does. */
  mode: 'forward' | 'blackhole' | 'refuse';
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const relay: TcpRelay = {
    port: 0,
    connections: () => count,
    mode: 'forward',
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    count++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (relay.mode === 'blackhole') return;
    if (relay.mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as net.AddressInfo).port;
  return relay;
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Parses a whole server-sent-events body into events (comments dropped). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith(':'));
    if (lines.length === 0) continue;
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    events.push({ event, data: data ? JSON.parse(data) : null });
  }
  return events;
}

export interface FunctionRuntime {
  /** The worker that takes new requests: the last one started, with the secrets as they were then. */
  current(): BridgeProcess;
  /** Workers started so far (one per change of the function's secrets). */
  workers(): number;
  /** What every worker printed. */
  output(): string;
  /** What each worker printed, in the order they started. */
  outputs(): string[];
  stop(): Promise<void>;
}

/**
 * The edge runtime as the function sees it: the function reads its secrets as environment
 * variables (https://supabase.com/docs/guides/functions/secrets), and an isolate's environment is
 * the one it booted with, so a change of the secrets reaches the workers started after it. Here
 * each change of `secrets` (the Supabase stand-in's own store) boots a bridge, which takes new
 * requests once it listens; the workers before it finish what they serve and stop at the end.
 */
export async function startFunctionRuntime(secrets: ReadonlyMap<string, string>, extra: Record<string, string>, deno: string = DENO): Promise<FunctionRuntime> {
  const all: BridgeProcess[] = [];
  const snapshot = () => JSON.stringify([...secrets].sort(([a], [b]) => (a < b ? -1 : 1)));
  let booted = snapshot();
  let current = await startBridge({ ...Object.fromEntries(secrets), ...extra }, deno);
  all.push(current);
  let stopped = false;
  let failure: unknown;
  const watch = (async () => {
    while (!stopped) {
      const now = snapshot();
      if (now !== booted) {
        booted = now;
        try {
          const next = await startBridge({ ...Object.fromEntries(secrets), ...extra }, deno);
          all.push(next);
          current = next;
        } catch (err) {
          failure = err;
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    current: () => {
      if (failure) throw failure;
      return current;
    },
    workers: () => all.length,
    output: () => all.map((b) => b.output()).join('\n'),
    outputs: () => all.map((b) => b.output()),
    async stop() {
      stopped = true;
      await watch;
      await Promise.all(all.map((b) => b.stop()));
    },
  };
}
