// `clawops up` on this machine, as an operator runs it: the built CLI applies the local
// environment into a throwaway home (the pinned Node and OpenClaw unpacked from a runtime cache
// made from tools/, so nothing is downloaded), then runs the three proxies and the gateway in the
// foreground on free ports. Real processes, real OpenClaw; no keys in .env.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureRuntimeCache } from '../e2e/runtime-cache.js';
import { clawops, scratchRepo } from '../support/cli.js';
import { freePort } from '../support/live-gateway.js';
import { REPO_ROOT } from '../support/repo.js';

/** Four free loopback ports in a row: the gateway's, then the three proxies'. */
async function freePortRun(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (;;) {
    const base = await freePort();
    if (base <= 65000 && (await Promise.all([1, 2, 3].map((i) => free(base + i)))).every(Boolean)) return base;
  }
}

/** Every process whose process group is one of these (a killed leader's helpers included). */
function processesInGroups(groups: readonly number[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces, so count from its closing parenthesis.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (groups.includes(pgrp)) found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`);
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

const ready = /clawops \| ready: /;

describe('clawops up --env local', { timeout: 20 * 60_000 }, () => {
  let work: string;
  let repo: string;
  let env: Record<string, string>;
  let port: number;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'clawops-up-'));
    repo = await scratchRepo();
    port = await freePortRun();
    env = { HOME: join(work, 'home'), CLAWOPS_RUNTIME_CACHE: await ensureRuntimeCache({ node: '24.21.0', openclaw: '2026.9.6' }), NO_COLOR: '1' };
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
    await rm(repo, { recursive: true, force: true });
  });

  test('runs the proxies and the gateway healthy, restarts a killed proxy, and Ctrl-C stops everything', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/clawops.js'), 'up', '--env', 'local', '--root', repo, '--port', String(port)], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const until = async (what: string, seen: () => boolean) => {
      while (!seen()) {
        if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode} before ${what}:\n${stderr.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const pids = () => [...stderr.matchAll(/clawops \| (\S+) started \(pid (\d+)\)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
    try {
      await until('ready', () => ready.test(stderr));

      // One line for every missing key, naming them and where they are described.
      const warnings = stderr.split('\n').filter((l) => l.startsWith('warning:'));
      assert.deepEqual(warnings, [
        'warning: no value in .env for CEREBRAS_API_KEY, DEEPSEEK_API_KEY, GEMINI_API_KEY, GROQ_API_KEY, KIMI_API_KEY, MISTRAL_API_KEY, OPENROUTER_API_KEY: written empty, so calls that need them fail over (.env.example lists every secret)',
      ]);
      assert.match(stderr, new RegExp(`Running the local deployment in the foreground \\(gateway on http://127\\.0\\.0\\.1:${port}, .*\\)\\. Ctrl-C stops it\\.`));
      // Started in order: the proxies, then the gateway once they were healthy.
      assert.deepEqual(pids().map((p) => p.name), ['gemini-proxy', 'kimi-proxy', 'mistral-proxy', 'openclaw-gateway']);
      const readyz = await (await fetch(`http://127.0.0.1:${port}/readyz`)).json() as { ready: boolean };
      assert.equal(readyz.ready, true);
      for (const offset of [1, 2, 3]) {
        const h = await (await fetch(`http://127.0.0.1:${port + offset}/healthz`)).json() as { status: string; upstreamKey: boolean };
        assert.deepEqual([h.status, h.upstreamKey], ['ok', false]);
      }
      // Each process's lines carry its name, as docker compose prints them.
      assert.match(stdout, /^gemini-proxy {5}\| \{.*"msg":"listening"/m);
      assert.match(stdout, /^openclaw-gateway \| .*\[gateway\]/m);

      // The deployment checklist passes against it, with no keys at all.
      const smoke = await clawops(['smoke', '--env', 'local', '--root', repo, '--port', String(port)], { env });
      assert.equal(smoke.code, 0, smoke.stdout + smoke.stderr);
      assert.match(smoke.stdout, /✔ gateway health \(WebSocket\)/);
      assert.match(smoke.stdout, /✔ proxy gemini \/healthz .*no upstream API key/);

      // A proxy that dies is started again, and is healthy again.
      const gemini = pids().find((p) => p.name === 'gemini-proxy')!;
      process.kill(gemini.pid, 'SIGKILL');
      await until('the restart', () => /gemini-proxy is healthy again/.test(stderr));
      assert.match(stderr, /gemini-proxy was killed \(SIGKILL\); restarting in 1 s/);
      const again = pids().filter((p) => p.name === 'gemini-proxy').at(-1)!;
      assert.notEqual(again.pid, gemini.pid);
      assert.equal((await fetch(`http://127.0.0.1:${port + 1}/healthz`)).status, 200);
    } finally {
      // Ctrl-C: the gateway, then the proxies, stop; up exits 0 and leaves nothing behind.
      child.kill('SIGINT');
    }
    const end = await exited;
    assert.deepEqual(end, { code: 0, signal: null }, stderr.slice(-3000));
    assert.match(stderr, /clawops \| everything stopped/);
    assert.deepEqual(processesInGroups(pids().map((p) => p.pid)), []);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/readyz`), 'the gateway no longer answers');
  });
});
