/**
 * Runs the shipped artifact: the proxies are bundled by scripts/build-proxies.ts into a temporary
 * folder (once per test file) and started as real `node <kind>-proxy.mjs --config proxy.json`
 * processes, on ephemeral ports, with a canary API key in their environment. Everything they
 * print is kept so a test can check that the key never shows up.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { buildProxies } from '../../scripts/build-proxies.js';

export type Kind = 'gemini' | 'mistral' | 'kimi';

export const CANARY_KEY = 'canary-key-3f9a7c21e4b8d05f';
export const KEY_ENV: Record<Kind, string> = { gemini: 'GEMINI_API_KEY', mistral: 'MISTRAL_API_KEY', kimi: 'MOONSHOT_API_KEY' };

let built: Promise<{ dir: string; programs: Record<Kind, string> }> | undefined;

export function bundles(): Promise<{ dir: string; programs: Record<Kind, string> }> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawops-proxies-'));
    const list = await buildProxies(join(dir, 'dist'));
    const programs = Object.fromEntries(list.map((p) => [p.kind, p.path])) as Record<Kind, string>;
    return { dir, programs };
  })();
  return built;
}

export async function cleanBundles(): Promise<void> {
  if (built) await rm((await built).dir, { recursive: true, force: true });
}

/** Everything every proxy process printed in this test file. */
export const printed: string[] = [];

export interface RunningProxy {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

export interface ProxyOptions {
  upstream: string;
  /** Environment for the proxy; the canary key is set unless `key: null`. */
  key?: string | null;
  config?: Record<string, unknown>;
}

export const MODELS: Record<Kind, { id: string; name: string; contextWindow: number; maxTokens: number }[]> = {
  gemini: [
    { id: 'gemini-2.5-flash', name: 'Gemini 2.5 Flash', contextWindow: 1048576, maxTokens: 65536 },
    { id: 'gemini-2.5-pro', name: 'Gemini 2.5 Pro', contextWindow: 1048576, maxTokens: 65536 },
  ],
  mistral: [{ id: 'mistral-large-latest', name: 'Mistral Large', contextWindow: 131072, maxTokens: 8192 }],
  kimi: [{ id: 'kimi-k2-turbo-preview', name: 'Kimi K2 Turbo', contextWindow: 262144, maxTokens: 16384 }],
};

export function proxyConfig(kind: Kind, upstream: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind, port: 0, upstream, apiKeyEnv: KEY_ENV[kind], timeoutMs: 5000, maxBodyBytes: 4194304, models: MODELS[kind], ...extra };
}

/** Starts a proxy process and waits for its `listening` line. */
export async function startProxy(kind: Kind, opts: ProxyOptions): Promise<RunningProxy> {
  const { dir, programs } = await bundles();
  const configPath = join(dir, `${kind}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(configPath, JSON.stringify(proxyConfig(kind, opts.upstream, opts.config)));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (opts.key !== null) env[KEY_ENV[kind]] = opts.key ?? CANARY_KEY;
  const child = spawn(process.execPath, [programs[kind], '--config', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (b: Buffer): void => {
    const s = b.toString('utf8');
    out += s;
    printed.push(s);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    // A ceiling for a loaded machine; a proxy that exits fails at once.
    const timer = setTimeout(() => reject(new Error(`${kind} proxy did not start within 120 s:\n${out}`)), 120_000);
    const check = (): void => {
      const m = /"msg":"listening".*?"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`${kind} proxy exited (${code}) before listening:\n${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    exited,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a proxy that is expected to refuse to start; returns its exit code and output. */
export async function runToExit(kind: Kind, args: string[]): Promise<{ code: number | null; output: string }> {
  const { programs } = await bundles();
  const child = spawn(process.execPath, [programs[kind], ...args], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  printed.push(output);
  return { code, output };
}

/** The official OpenAI client pointed at a proxy, as OpenClaw and other OpenAI clients reach it. No retries: a test sees each answer. */
export function openaiClient(proxy: RunningProxy): OpenAI {
  return new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-token-not-forwarded', maxRetries: 0 });
}

// --- a small HTTP client (node:http, so a test controls the socket) ---

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Parsed body, or undefined; `any` so tests can read fields directly. */
  json: any;
}

const agent = new http.Agent({ keepAlive: false });

export function request(url: string, opts: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function postChat(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${base}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * A streamed chat request read event by event. `next()` resolves with the next `data:` payload
 * (or null at the end), so a test can act between events, e.g. before the upstream has finished.
 */
export interface EventReader {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every raw byte received, to check framing (no comments, one [DONE]). */
  raw(): string;
  next(): Promise<string | null>;
  rest(): Promise<string[]>;
  /** Drops the connection, like a client that went away. */
  destroy(): void;
}

export function openStream(base: string, body: unknown): Promise<EventReader> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let raw = '';
      let buffer = '';
      const queue: (string | null)[] = [];
      const waiting: ((v: string | null) => void)[] = [];
      const deliver = (v: string | null): void => {
        const w = waiting.shift();
        if (w) w(v);
        else queue.push(v);
      };
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        raw += s;
        buffer += s;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          for (const line of frame.split('\n')) if (line.startsWith('data: ')) deliver(line.slice(6));
        }
      });
      const end = (): void => deliver(null);
      res.on('end', end);
      res.on('error', end);
      res.on('close', end);
      const next = (): Promise<string | null> => {
        if (queue.length > 0) return Promise.resolve(queue.shift()!);
        return new Promise((r) => waiting.push(r));
      };
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        raw: () => raw,
        next,
        async rest() {
          const all: string[] = [];
          for (let e = await next(); e !== null; e = await next()) all.push(e);
          return all;
        },
        destroy: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Rejects if `promise` has not settled within `ms`: a guard against hangs, not a timing check. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
