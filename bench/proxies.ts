/**
 * Added latency of each proxy, on loopback, against a local stand-in of its upstream.
 *
 *  - p50 overhead: autocannon (programmatic) sends non-streamed requests to the stand-in directly
 *    (native body) and through the proxy (OpenAI body); the per-response times autocannon reports
 *    are kept at full resolution and the medians subtracted. Measured with 1 connection (the
 *    added latency of one request) and with 8 (under load).
 *  - TTFB overhead: many sequential streamed requests, time from sending to the first body byte,
 *    through the proxy minus directly; medians.
 *
 * The proxies run as the bundled programs, each in its own process, and the stand-in upstream in
 * another (this file with --stand-in): a real upstream is never inside the load generator, and
 * in-process "direct" calls would skip the process hop every proxied call pays twice. Bounded by
 * request counts; it reports and always exits 0. Run: npx tsx bench/proxies.ts
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProxies } from '../scripts/build-proxies.js';
import { closedPort, compatChunk, compatCompletion, geminiEvent, geminiText, json, openaiEvent, startSse, startStandIn } from '../test/proxies/upstreams.js';

type Kind = 'gemini' | 'mistral' | 'kimi';

interface AutocannonOptions {
  url: string;
  method: 'POST';
  body: string;
  headers: Record<string, string>;
  connections: number;
  amount: number;
}
interface AutocannonInstance extends PromiseLike<{ non2xx: number; errors: number }> {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => AutocannonInstance;

const TARGET_P50_MS = 1;
const TARGET_TTFB_MS = 5;
const WARMUP = 200;
const REQUESTS = 1500;
const LOAD_REQUESTS = 1000;
const TTFB_REQUESTS = 200;
const KEY = 'bench-key-not-a-secret';
const WATCHDOG_MS = 150_000;

/** Every process this bench started, so that no exit path leaves one behind. */
const children: ChildProcess[] = [];

const MODEL: Record<Kind, string> = { gemini: 'gemini-2.5-flash', mistral: 'mistral-large-latest', kimi: 'kimi-k2-turbo-preview' };
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello in five words or fewer, please, and nothing else at all.' },
];

/** What the gateway sends to the proxy, and what a client of the upstream would send directly. */
function bodies(kind: Kind, stream: boolean): { proxy: string; direct: string; directPath: string } {
  const proxy = JSON.stringify({ model: MODEL[kind], messages, temperature: 0.2, max_tokens: 64, stream, stream_options: stream ? { include_usage: true } : undefined });
  if (kind === 'gemini') {
    return {
      proxy,
      direct: JSON.stringify({
        systemInstruction: { parts: [{ text: messages[0]!.content }] },
        contents: [{ role: 'user', parts: [{ text: messages[1]!.content }] }],
        generationConfig: { temperature: 0.2, maxOutputTokens: 64 },
      }),
      directPath: `/v1beta/models/${MODEL.gemini}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
    };
  }
  return { proxy, direct: JSON.stringify({ model: MODEL[kind], messages, temperature: 0.2, max_tokens: 64, stream }), directPath: '/v1/chat/completions' };
}

/** The stand-in process: answers both native shapes, prints its origin, runs until killed. */
async function serveStandIn(): Promise<void> {
  const upstream = await startStandIn();
  upstream.handle((rec, res) => {
    upstream.requests.length = 0; // nothing is inspected here; keep memory flat
    const gemini = rec.url.startsWith('/v1beta/');
    const stream = gemini ? rec.url.includes('streamGenerateContent') : rec.body?.stream === true;
    if (!stream) {
      json(res, 200, gemini ? geminiText('Hello there, friend!') : compatCompletion(rec.body.model, { content: 'Hello there, friend!' }));
      return;
    }
    startSse(res);
    if (gemini) geminiEvent(res, { candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, index: 0 }] });
    else openaiEvent(res, compatChunk(rec.body.model, { role: 'assistant', content: 'Hello' }));
    setImmediate(() => {
      if (gemini) geminiEvent(res, geminiText(' there!'));
      else {
        openaiEvent(res, compatChunk(rec.body.model, { content: ' there!' }, 'stop'));
        res.write('data: [DONE]\n\n');
      }
      res.end();
    });
  });
  process.stdout.write(`${upstream.origin}\n`);
  // Orphaned (the bench was killed): stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

async function startStandInProcess(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--stand-in'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stand-in did not start')), 15_000);
    child.stdout!.once('data', (b: Buffer) => {
      clearTimeout(timer);
      resolve(b.toString().trim());
    });
  });
  return { child, origin };
}

/**
 * The proxy's stdout goes to /dev/null: a pipe that this busy process drains late would fill up and
 * block the proxy's (synchronous) log writes, which would show up as proxy latency. So the port is
 * chosen here and readiness is polled on /healthz.
 */
async function startProxy(program: string, configPath: string, kind: Kind, upstream: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await closedPort();
  await writeFile(
    configPath,
    JSON.stringify({ kind, port, upstream, apiKeyEnv: 'BENCH_KEY', timeoutMs: 10_000, models: [{ id: MODEL[kind], name: MODEL[kind] }] }),
  );
  const child = spawn(process.execPath, [program, '--config', configPath], { env: { PATH: process.env.PATH, BENCH_KEY: KEY }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      http.get(`${url}/healthz`, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      }).on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`${kind} proxy did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, url };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function p50(url: string, body: string, connections: number): Promise<{ p50: number; failed: number }> {
  const headers = { 'content-type': 'application/json' };
  await autocannon({ url, method: 'POST', body, headers, connections, amount: WARMUP });
  const times: number[] = [];
  const run = autocannon({ url, method: 'POST', body, headers, connections, amount: connections === 1 ? REQUESTS : LOAD_REQUESTS });
  run.on('response', (_c, status, _b, ms) => {
    if (status === 200) times.push(ms);
  });
  const result = await run;
  return { p50: median(times), failed: result.non2xx + result.errors };
}

const ttfbAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Time from sending a streamed request to its first body byte; the rest is read and dropped. */
function firstByte(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', agent: ttfbAgent, headers: { 'content-type': 'application/json' } }, (res) => {
      let first: number | undefined;
      res.on('data', () => {
        first ??= Number(process.hrtime.bigint() - started) / 1e6;
      });
      res.on('end', () => (first === undefined ? reject(new Error(`no body (${res.statusCode})`)) : resolve(first)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function ttfb(url: string, body: string): Promise<number> {
  for (let i = 0; i < 30; i++) await firstByte(url, body);
  const times: number[] = [];
  for (let i = 0; i < TTFB_REQUESTS; i++) times.push(await firstByte(url, body));
  return median(times);
}

const fmt = (ms: number): string => `${ms.toFixed(3)} ms`;
const verdict = (overhead: number, target: number): string => (overhead <= target ? 'meets target' : 'OVER TARGET');

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-'));
  const started = Date.now();
  try {
    const upstream = await startStandInProcess();
    const programs = await buildProxies(join(dir, 'dist'));
    for (const { kind, path } of programs) {
      const base = kind === 'gemini' ? `${upstream.origin}/v1beta` : `${upstream.origin}/v1`;
      const proxy = await startProxy(path, join(dir, `${kind}.json`), kind, base);
      const plain = bodies(kind, false);
      const streamed = bodies(kind, true);
      const directUrl = `${upstream.origin}${plain.directPath}`;
      const proxyUrl = `${proxy.url}/v1/chat/completions`;

      const rows: string[][] = [];
      for (const connections of [1, 8]) {
        const direct = await p50(directUrl, plain.direct, connections);
        const viaProxy = await p50(proxyUrl, plain.proxy, connections);
        const overhead = viaProxy.p50 - direct.p50;
        const failed = direct.failed + viaProxy.failed;
        rows.push([
          `p50 non-streamed, ${connections} conn`,
          fmt(direct.p50),
          fmt(viaProxy.p50),
          fmt(overhead),
          `≤ ${TARGET_P50_MS} ms`,
          connections === 1 ? verdict(overhead, TARGET_P50_MS) : '(under load, info)',
          failed ? `${failed} failed` : '',
        ]);
      }
      const directTtfb = await ttfb(`${upstream.origin}${streamed.directPath}`, streamed.direct);
      const proxyTtfb = await ttfb(proxyUrl, streamed.proxy);
      rows.push(['TTFB streamed (median)', fmt(directTtfb), fmt(proxyTtfb), fmt(proxyTtfb - directTtfb), `≤ ${TARGET_TTFB_MS} ms`, verdict(proxyTtfb - directTtfb, TARGET_TTFB_MS), '']);
      printTable(kind, rows);
    }
    console.log(`\n${REQUESTS} requests per 1-connection p50 figure, ${LOAD_REQUESTS} per 8-connection one (after ${WARMUP} warm-up), ${TTFB_REQUESTS} sequential streams per TTFB figure; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error('bench failed:', err);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    ttfbAgent.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(kind: Kind, rows: string[][]): void {
  const head = ['measure', 'direct', 'via proxy', 'overhead', 'target', '', ''];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  console.log(`\n${kind}-proxy`);
  for (const r of all) console.log(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
}

if (process.argv.includes('--stand-in')) {
  await serveStandIn();
} else {
  // Bounded in time as well as in requests: a stuck run reports that and still exits 0.
  setTimeout(() => {
    console.error(`bench stopped after ${WATCHDOG_MS / 1000} s without finishing`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(0);
  }, WATCHDOG_MS).unref();
  await main();
  process.exit(0);
}
