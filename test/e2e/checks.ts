// What the end-to-end files assert about a host, shared by them: exit codes with the run's output,
// health, an agent turn, which release the files are, OpenClaw's hot reload, and that no secret
// value ever left. Every wait here is on what the host is doing (see test/support/wait.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { waitUntil } from '../support/wait.js';
import { GATEWAY, hostLogs, leakedSecrets, matchingReleases, openclawOnHost, PROXIES, PROXY_PORTS, releaseRecord, STATE, VERSIONS, type CliRun, type E2E } from './support.js';

export const CHAIN = 'config/fallback-chain.yaml';
export const MISTRAL = 'config/providers/mistral.yaml';
export const ORIGINAL_HEAD = '  - deepseek/deepseek-chat\n  - kimi/kimi-k2.5\n';
export const SWAPPED_HEAD = '  - kimi/kimi-k2.5\n  - deepseek/deepseek-chat\n';
export const GATEWAY_OK = new RegExp(`^✔ gateway health \\(WebSocket\\) \\(\\d+ ms\\): .*OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')}`, 'm');

/** Asserts an exit code, showing the run's output when it differs (and, given the host, what its
 * services logged last, which says why a gate failed). */
export async function expectExit(run: CliRun, code: number, e?: E2E): Promise<void> {
  if (run.code === code) return;
  const journal = e ? `\n--- the services' journal on the host\n${await e.sh(`sudo journalctl -u '*-proxy.service' -u ${GATEWAY} --no-pager -o short-unix -n 120 || true`).catch((err: Error) => err.message)}` : '';
  assert.fail(`clawops ${run.args.join(' ')} exited ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}${journal}`);
}

async function healthz(e: E2E, port: number): Promise<{ status: string; kind: string; upstreamKey: boolean }> {
  return JSON.parse(await e.sh(`curl -fsS -m 5 http://127.0.0.1:${port}/healthz`)) as { status: string; kind: string; upstreamKey: boolean };
}

async function readyz(e: E2E): Promise<{ ready: boolean }> {
  return JSON.parse(await e.sh('curl -fsS -m 5 http://127.0.0.1:18789/readyz')) as { ready: boolean };
}

/** Every proxy answers ok with its key, and the gateway says it is ready. */
export async function assertAllHealthy(e: E2E): Promise<void> {
  for (const [kind, port] of Object.entries(PROXY_PORTS)) {
    const h = await healthz(e, port);
    assert.deepEqual([h.status, h.kind, h.upstreamKey], ['ok', kind, true], `${kind} proxy /healthz on ${port}`);
  }
  assert.equal((await readyz(e)).ready, true, 'gateway /readyz');
}

/** One agent turn through the running gateway: who answered, and whether the chain had to fall back. */
export async function agentTurn(e: E2E, message: string): Promise<{ provider: string; model: string; text: string; fallbackUsed: boolean }> {
  const out = await openclawOnHost(e, `agent --agent main --session-id e2e-${randomBytes(4).toString('hex')} --message '${message}' --json --timeout 600`);
  const provider = /"winnerProvider":\s*"([^"]+)"/.exec(out)?.[1];
  const model = /"winnerModel":\s*"([^"]+)"/.exec(out)?.[1];
  const text = /"finalAssistantVisibleText":\s*"([^"]*)"/.exec(out)?.[1];
  const fallbackUsed = /"fallbackUsed":\s*(true|false)/.exec(out)?.[1];
  assert.ok(provider && model && text !== undefined && fallbackUsed, `no agent result in:\n${out.slice(-2000)}`);
  return { provider, model, text, fallbackUsed: fallbackUsed === 'true' };
}

/** The host's managed files match exactly this release's record, file for file. */
export async function assertHostIs(e: E2E, release: string, others: string[] = []): Promise<void> {
  const records = await Promise.all([release, ...others].map((id) => releaseRecord(e, id)));
  const { matches, mismatches } = await matchingReleases(e, records);
  assert.ok(matches.includes(release), `the host's files are not those of release ${release}; differing: ${mismatches[release]!.join(', ')}`);
  const leftovers = await e.sh(`sudo find /etc/systemd/system ${STATE} ${PROXIES} -maxdepth 3 \\( -name '*.clawops-new' -o -name '*.clawops-old' -o -name '.*.clawops-*.tmp' \\)`);
  assert.equal(leftovers.trim(), '', 'half-written files left on the host');
}

/** Gives a secret a new canary value (the next apply's env files change); returns it. */
export function rotate(e: E2E, name: string): string {
  const value = `canary-${name.toLowerCase().replace(/_/g, '-')}-rotated-${randomBytes(9).toString('hex')}`;
  e.secrets[name] = value;
  e.secretValues.push(value);
  return value;
}

/** Waits for OpenClaw to log that it hot-reloaded a config change since then; returns its log. */
export async function hotReloadSince(e: E2E, sinceUnix: number, what: RegExp): Promise<string> {
  let journal = '';
  return waitUntil(
    `OpenClaw to log a hot reload of ${what}`,
    async () => {
      journal = await e.sh(`sudo journalctl -u ${GATEWAY} --no-pager -o cat --since @${Math.floor(sinceUnix)}`);
      return /config hot reload applied \(/.test(journal) && what.test(journal) && journal;
    },
    { intervalMs: 500, describe: () => journal.slice(-3000) },
  );
}

/** The lock holder the CLI names when run here (user@host), as a pattern. */
export function userAt(): string {
  return `${userInfo().username}@${hostname()}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** No secret value in any CLI output of the file's runs, nor in the logs clawops keeps on the host. */
export async function assertNoSecretLeft(e: E2E, minRuns: number): Promise<void> {
  assert.ok(e.runs.length >= minRuns, `only ${e.runs.length} CLI runs were recorded`);
  for (const run of e.runs) {
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr, e.secretValues), [], `secret values in the output of clawops ${run.args.join(' ')}`);
  }
  const logs = await hostLogs(e);
  assert.match(logs, /outcome applied/, 'the host logs were read');
  assert.deepEqual(leakedSecrets(logs, e.secretValues), [], 'secret values in activate.log, progress or audit.log');
}
