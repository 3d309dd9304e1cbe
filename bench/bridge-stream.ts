/**
 * What the bridge's chat stream costs per reply size, today's form (v1: the gateway's events, each
 * with the whole reply so far) beside v2 (`?v=2`: the new text only): bytes on the wire to the
 * browser, and the bridge's CPU time for the request (all its threads, from /proc), on each Deno
 * line the function runs on. Supabase allows an edge function 2 s of CPU per request
 * (https://supabase.com/docs/guides/functions/limits, "Maximum CPU Time").
 *
 * The real bridge under the real Deno, in front of the real OpenClaw gateway, whose model is a
 * local stand-in streaming a reply of the given size in words, at `--pace` characters a second
 * (default 4000, about 1000 tokens/s, as the chain's fast providers stream; 0 streams as fast as
 * possible). The gateway sends the reply so far at most every 75 ms, so a slower model means more
 * events, and today's form costs more. Target for v2: bytes ≤ 2× the reply plus a constant, CPU
 * growing in proportion to the reply. Prints the figures; it asserts nothing.
 * Run: npx tsx bench/bridge-stream.ts [--runs N] [--sizes 1,4,18,64] [--pace CHARS_PER_SECOND]
 */
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DENO_LINES } from '../scripts/tools.js';
import { startAuthStandin } from '../test/support/auth-standin.js';
import { startBridge, type BridgeProcess } from '../test/support/bridge-process.js';
import { decodeStream, finalReply, replyFromDeltas } from '../test/support/bridge-stream.js';
import { startLiveGateway } from '../test/support/live-gateway.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' }, sizes: { type: 'string', default: '1,4,18,64' }, pace: { type: 'string', default: '4000' } } });
const RUNS = Number(args.runs);
const SIZES_KB = args.sizes.split(',').map(Number);
const PACE = Number(args.pace);
if (!Number.isInteger(RUNS) || RUNS < 1 || SIZES_KB.some((kb) => !(kb > 0)) || !(PACE >= 0)) {
  console.error('usage: bench/bridge-stream.ts [--runs N] [--sizes KB,KB,…] [--pace CHARS_PER_SECOND]');
  process.exit(64);
}

/** CPU time of every thread of a process so far, in ms (schedstat: nanoseconds on a CPU). */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e6;
}

function reply(kb: number): string {
  const words: string[] = [];
  for (let n = 0; n < kb * 1024; n += words.at(-1)!.length + 1) words.push(`word${words.length}`);
  return words.join(' ');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const deviceKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const auth = await startAuthStandin();
const user = auth.issue();
console.error('starting the OpenClaw gateway (a minute or two)…');
const gw = await startLiveGateway();
const bridges: { name: string; bridge: BridgeProcess }[] = [];
try {
  for (const deno of DENO_LINES) {
    const env = { OPENCLAW_GATEWAY_URL: gw.wsUrl, OPENCLAW_GATEWAY_TOKEN: gw.token, OPENCLAW_BRIDGE_DEVICE_KEY: deviceKeyPem, SUPABASE_URL: auth.url, SUPABASE_ANON_KEY: auth.anonKey };
    bridges.push({ name: deno.name, bridge: await startBridge(env, deno.path) });
  }

  /** One chat through `bridge`: the body's bytes and the bridge's CPU for it. */
  async function chat(bridge: BridgeProcess, version: 1 | 2, text: string, session: string): Promise<{ bytes: number; cpuMs: number }> {
    gw.upstream.setReply('deepseek-chat', text, PACE);
    const before = cpuMs(bridge.pid);
    const res = await fetch(`${bridge.url}/openclaw/chat${version === 2 ? '?v=2' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'answer at length', sessionKey: session }),
    });
    const body = await res.text();
    const cpu = cpuMs(bridge.pid) - before;
    if (res.status !== 200) throw new Error(`chat answered ${res.status}: ${body.slice(0, 300)}`);
    // Each run is checked, so a figure is never taken from a broken stream.
    if (version === 2) {
      const events = decodeStream(body);
      const done = events.at(-1);
      if (done?.event !== 'done' || finalReply(events) !== text || replyFromDeltas(events) !== text) throw new Error(`v2 stream did not carry the reply: ${body.slice(-300)}`);
    } else if (!body.includes('event: done')) throw new Error(`v1 stream ended without done: ${body.slice(-300)}`);
    return { bytes: Buffer.byteLength(body), cpuMs: cpu };
  }

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const fmtBytes = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} KB`);
  for (const { name, bridge } of bridges) {
    // Warm up: the first requests compile the bridge's code.
    for (const v of [1, 2] as const) await chat(bridge, v, reply(4), `warm-${v}`);
    console.log(`\n${name}: median of ${RUNS} runs per cell, the model streaming ${PACE ? `${PACE} characters a second` : 'as fast as it can'}`);
    console.log(`${'reply'.padStart(7)} | ${'v1 bytes'.padStart(10)} ${'v2 bytes'.padStart(10)} ${'v1/v2'.padStart(7)} ${'v2/reply'.padStart(9)} | ${'v1 CPU'.padStart(9)} ${'v2 CPU'.padStart(9)} ${'v1/v2'.padStart(7)} ${'v2 ms/KB'.padStart(9)}`);
    for (const kb of SIZES_KB) {
      const text = reply(kb);
      const cells = { 1: [] as { bytes: number; cpuMs: number }[], 2: [] as { bytes: number; cpuMs: number }[] };
      // Interleaved, so both forms see the same machine.
      for (let i = 0; i < RUNS; i++) for (const v of [1, 2] as const) cells[v].push(await chat(bridge, v, text, `bench-${kb}-${v}-${i}`));
      const b1 = median(cells[1].map((c) => c.bytes));
      const b2 = median(cells[2].map((c) => c.bytes));
      const c1 = median(cells[1].map((c) => c.cpuMs));
      const c2 = median(cells[2].map((c) => c.cpuMs));
      console.log(
        `${pad(`${kb} KB`, 7)} | ${pad(fmtBytes(b1), 10)} ${pad(fmtBytes(b2), 10)} ${pad(`${(b1 / b2).toFixed(1)}×`, 7)} ${pad((b2 / text.length).toFixed(2), 9)} | ` +
          `${pad(`${c1.toFixed(1)} ms`, 9)} ${pad(`${c2.toFixed(1)} ms`, 9)} ${pad(`${(c1 / c2).toFixed(1)}×`, 7)} ${pad((c2 / kb).toFixed(2), 9)}`,
      );
    }
  }
  console.log('\nv2/reply: bytes on the wire per character of the reply (target ≤ 2 plus a constant). v2 ms/KB: the bridge\'s CPU per KB of reply (flat when linear).');
} finally {
  for (const { bridge } of bridges) await bridge.stop();
  await gw.stop();
  await auth.close();
}
