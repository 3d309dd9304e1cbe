// End-to-end harness: one real test host (Debian + systemd + sshd, scripts/testhost/), a scratch
// repository whose `testhost` environment points at it, canary secret values, and the built CLI
// run as a user runs it. Every CLI run is recorded so the tests can prove that no secret value
// ever reached its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../support/repo.js';
import { withSmokeCanary } from '../support/smoke-canary.js';
import { relayProxyCommand } from '../support/relay.js';
import { startTestHost, type TestHost } from '../support/testhost.js';
import { waitUntil } from '../support/wait.js';
import { ensureRuntimeCache, ensureRuntimeImage } from './runtime-cache.js';

export const VERSIONS = { node: '24.21.0', openclaw: '2026.9.6' } as const;
export const ENV = 'testhost';
export const STATE = '/home/ubuntu/.openclaw';
export const PROXIES = '/home/ubuntu/openclaw-proxies';
export const RUNTIME = '/opt/clawops';
export const CLAWOPS_DIR = `${STATE}/.clawops`;
export const NODE = `${RUNTIME}/node/${VERSIONS.node}/bin/node`;
export const OPENCLAW = `${RUNTIME}/openclaw/${VERSIONS.openclaw}/node_modules/openclaw/openclaw.mjs`;
export const GATEWAY = 'openclaw-gateway.service';
export const PROXY_UNITS = ['gemini-proxy.service', 'kimi-proxy.service', 'mistral-proxy.service'] as const;
export const UNITS = [...PROXY_UNITS, GATEWAY] as const;
export const GATEWAY_PORT = 18789;
export const PROXY_PORTS = { gemini: 18790, mistral: 18791, kimi: 18792 } as const;
/** The stand-in upstream every provider points at in the testhost environment, on the host. */
export const STUB_PORT = 39999;
export const STUB_RECORD = '/home/ubuntu/e2e-upstream.jsonl';

export interface CliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ReleaseRecord {
  id: string;
  revision: string;
  files: Record<string, { digest: string; sensitive: boolean; name: string; mode: number; owner?: string }>;
  /** What the deep audit after the apply found. */
  securityFindings?: { checkId: string; severity: string }[];
}

export interface E2E {
  host: TestHost;
  /** The scratch repository (holds config/). */
  repo: string;
  /** Secret values handed to the CLI, by name: canaries, and the SSH key. */
  secrets: Record<string, string>;
  /** Values that must never appear in any output or log. */
  secretValues: string[];
  /** Every CLI run so far. */
  runs: CliRun[];
  /** `clock`: the CLI's clock moved by this much (libfaketime's offset form, `-10m`); the host's stays. */
  cli(args: string[], opts?: { revision?: string; clock?: string; env?: Record<string, string> }): Promise<CliRun>;
  /** The command line and environment cli() runs, for a caller that times the process itself. */
  cliCommand(args: string[], revision: string): { command: string; args: string[]; env: Record<string, string> };
  /** Starts a CLI run without waiting: for concurrent runs and for killing one half way. */
  spawnCli(args: string[], opts?: { revision?: string; clock?: string; env?: Record<string, string> }): SpawnedCli;
  /** Runs a shell command on the host as ubuntu; throws on a non-zero exit. */
  sh(command: string, input?: string): Promise<string>;
  /** Rewrites a file of the scratch repository (path relative to it); throws if nothing changed.
   * Returns what puts the file back as it was. */
  editRepo(file: string, change: (text: string) => string): Promise<() => Promise<void>>;
  /** The file the relay notes each connection in (one JSON line each), unless CLAWOPS_E2E_VIA=tcp. */
  relayNote: string | undefined;
  /** Stops the host. Every run must have reached it through the relay: its own runs, or, for a
   * host the runs of another E2E's repository reach (a fleet), that one's (`relayedBy`). */
  stop(options?: { relayedBy?: E2E }): Promise<void>;
}

export interface SpawnedCli {
  child: ChildProcess;
  done: Promise<CliRun>;
  stderrSoFar(): string;
  /** Waits until the run's progress (stderr) matches, however long that takes; fails if the run
   * ends first. */
  untilStderr(pattern: RegExp): Promise<RegExpExecArray>;
}

export interface StartE2EOptions {
  /** Boot the host from the image with the pinned Node and OpenClaw already where apply installs
   * them (default), or from the bare base, for the file that tests installation itself. */
  runtime?: 'preinstalled' | 'absent';
  /** With the smoke's canary agent and provider (default), or without, as production is. */
  canary?: boolean;
  /** The OpenClaw the environment pins at first (default VERSIONS.openclaw). Another version is
   * preinstalled beside the pinned one, so that moving the pin installs nothing. */
  openclaw?: string;
  /** The TLS hop in front of a loopback gateway, with Caddy's internal CA (default: none, the gateway on the host's address in plaintext). */
  tls?: boolean;
  /** How runs reach the host: through the relay (default, or CLAWOPS_E2E_VIA) or over TCP. */
  via?: 'proxy' | 'tcp';
}

const canary = (name: string) => `canary-${name.toLowerCase().replace(/_/g, '-')}-${randomBytes(9).toString('hex')}`;

export async function startE2E(name: string, options: StartE2EOptions = {}): Promise<E2E> {
  const via = options.via ?? process.env.CLAWOPS_E2E_VIA ?? 'proxy';
  if (via !== 'tcp' && via !== 'proxy') throw new Error(`CLAWOPS_E2E_VIA=${via}: expected proxy (the default) or tcp`);
  const cache = await ensureRuntimeCache(VERSIONS);
  const pinned = { ...VERSIONS, openclaw: options.openclaw ?? VERSIONS.openclaw };
  if (pinned.openclaw !== VERSIONS.openclaw) await ensureRuntimeCache(pinned);
  const layers =
    (options.runtime ?? 'preinstalled') === 'preinstalled'
      ? [...new Set([await ensureRuntimeImage(pinned, RUNTIME), await ensureRuntimeImage(VERSIONS, RUNTIME)])]
      : [];
  const work = await mkdtemp(join(tmpdir(), 'clawops-e2e-'));
  const home = join(work, 'home');
  let host: TestHost | undefined;
  try {
    await mkdir(home);
    const bin = await snapshotCli(join(work, 'cli'));
    // A name of this run's own: startTestHost first stops any host of the same name, which would
    // be another run's (two runs of the suite at once) rather than a leftover.
    host = await startTestHost(`${name}-${randomBytes(3).toString('hex')}`, { layers });
    const h = host;
    const repo = join(work, 'repo');
    await cp(join(REPO_ROOT, 'config'), join(repo, 'config'), { recursive: true });
    // The Supabase CLI's project file holds the edge function's settings, read with the config.
    await cp(join(REPO_ROOT, 'supabase'), join(repo, 'supabase'), { recursive: true });
    // The lock of each pinned OpenClaw, for a host that fetches its runtime from the registry.
    await cp(join(REPO_ROOT, 'runtime'), join(repo, 'runtime'), { recursive: true });
    // The smoke's canary, so that `clawops smoke` checks the fallback through it (`canary: false`: as production, without one).
    const canaryEdits = ['config/openclaw.json', 'config/secrets.yaml'];
    const withCanary = options.canary === false ? [] : withSmokeCanary(await Promise.all(canaryEdits.map(async (file) => ({ file, text: await readFile(join(repo, file), 'utf8') }))));
    for (const f of withCanary) await writeFile(join(repo, f.file), f.text);

    const declared = Object.keys(
      (parseYaml(await readFile(join(repo, 'config/secrets.yaml'), 'utf8')) as { secrets: Record<string, unknown> }).secrets,
    );
    const secrets: Record<string, string> = Object.fromEntries(declared.map((n) => [n, canary(n)]));
    secrets.TESTHOST_SSH_KEY = await readFile(h.privateKeyPath, 'utf8');
    await writeFile(
      join(repo, 'config/secrets.yaml'),
      `${await readFile(join(repo, 'config/secrets.yaml'), 'utf8')}  TESTHOST_SSH_KEY:\n    description: Private key clawops uses to reach the end-to-end test host\n`,
    );
    // Every run reaches the host through a proxy command (a stdio relay, as `nc %h %p` is, standing
    // in for the Session Manager tunnel production uses) instead of its own TCP connection, and the
    // scenarios pass unchanged. CLAWOPS_E2E_VIA=tcp connects directly, to tell a relay fault apart.
    const relayNote = via === 'proxy' ? join(work, 'relay-note.json') : undefined;
    await writeFile(join(repo, 'config/environments/testhost.yaml'), testhostEnvironment(h, options.canary !== false, pinned.openclaw, relayNote, options.tls === true));
    // The key's base64 body lines are what would leak, not its armour lines.
    const keyLines = secrets.TESTHOST_SSH_KEY.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const secretValues = [...Object.entries(secrets).filter(([n]) => n !== 'TESTHOST_SSH_KEY').map(([, v]) => v), ...keyLines];

    const runs: CliRun[] = [];
    const env = (revision: string) => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      CLAWOPS_RUNTIME_CACHE: cache,
      CLAWOPS_REVISION: revision,
      NO_COLOR: '1',
      ...secrets,
    });
    let n = 0;
    // Runs here have no terminal: apply and rollback, which would ask on one, are approved up front.
    const approved = (args: string[]) => (args[0] === 'apply' || args[0] === 'rollback' ? ['--auto-approve'] : []);
    const cliCommand: E2E['cliCommand'] = (args, revision) => ({ command: process.execPath, args: [bin, ...args, ...approved(args), '--root', repo], env: env(revision) });
    const spawnCli: E2E['spawnCli'] = (args, opts = {}) => {
      const started = Date.now();
      const c = cliCommand(args, opts.revision ?? `e2e${++n}`);
      // Debian's faketime: the test hosts share this machine's kernel clock, so only the CLI's moves.
      const [command, argv] = opts.clock ? ['faketime', ['-f', opts.clock, c.command, ...c.args]] : [c.command, c.args];
      const child = spawn(command, argv, { env: { ...c.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let ended = false;
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const done = new Promise<CliRun>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => {
          ended = true;
          const run = { args, code: code ?? (signal ? 128 + 9 : 1), stdout, stderr, ms: Date.now() - started };
          runs.push(run);
          const steps = stderr.split('\n').filter((l) => l.startsWith('[')).map((l) => `[e2e]     ${l}\n`).join('');
          process.stderr.write(`[e2e] clawops ${args.join(' ')} → exit ${run.code}${signal ? ` (${signal})` : ''} in ${(run.ms / 1000).toFixed(1)} s\n${steps}`);
          resolve(run);
        });
      });
      const untilStderr = (pattern: RegExp) =>
        waitUntil(`clawops ${args.join(' ')} to print ${pattern}`, () => pattern.exec(stderr) ?? undefined, {
          intervalMs: 50,
          alive: () => !ended,
          describe: () => stderr,
        });
      return { child, done, stderrSoFar: () => stderr, untilStderr };
    };

    const sh: E2E['sh'] = async (command, input) => {
      const r = await h.run(command, { timeoutMs: 180_000, ...(input !== undefined ? { input } : {}) });
      if (r.code !== 0) throw new Error(`on the host: ${command.slice(0, 200)}: exit ${r.code}\n${r.stderr.trim()}`);
      return r.stdout;
    };

    return {
      host: h,
      repo,
      secrets,
      secretValues,
      runs,
      cli: (args, opts) => spawnCli(args, opts).done,
      cliCommand,
      spawnCli,
      sh,
      async editRepo(file, change) {
        const path = join(repo, file);
        const before = await readFile(path, 'utf8');
        const after = change(before);
        if (after === before) throw new Error(`edit of ${file} changed nothing`);
        await writeFile(path, after);
        return () => writeFile(path, before);
      },
      relayNote,
      async stop(options = {}) {
        // Through the relay means through it: runs that bypassed it would leave no note of this host.
        const note = options.relayedBy ? options.relayedBy.relayNote : relayNote;
        const relayed = note
          ? await readFile(note, 'utf8').then(
              (text) =>
                text
                  .split('\n')
                  .filter(Boolean)
                  .map((line) => JSON.parse(line) as { host: string; port: string })
                  .some((seen) => seen.host === h.host && seen.port === String(h.port)),
              () => false,
            )
          : true;
        try {
          await h.stop();
        } finally {
          await rm(work, { recursive: true, force: true });
        }
        if (!relayed) throw new Error(`no run reached ${h.host}:${h.port} through the relay (CLAWOPS_E2E_VIA=tcp connects directly)`);
      },
    };
  } catch (err) {
    await host?.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A private copy of the built CLI (bin/ and dist/) for this run: `npm run build` by someone else
 * mid-run (it deletes dist/ first) can neither break a run nor change the proxy programs between
 * two applies. A node_modules link beside it resolves the CLI's external packages as in the repo.
 */
async function snapshotCli(dir: string): Promise<string> {
  try {
    await cp(join(REPO_ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  } catch (err) {
    throw new Error(`the CLI is not built (dist/): run \`npm run build\` first (${(err as Error).message})`);
  }
  await cp(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin/clawops.js');
}

function testhostEnvironment(h: TestHost, canary: boolean, openclaw: string, relayNote: string | undefined, tls: boolean): string {
  // knownHostsLine is "host type base64": the pinned key is the last two words.
  const hostKey = h.knownHostsLine.split(' ').slice(1, 3).join(' ');
  const stub = `http://127.0.0.1:${STUB_PORT}`;
  return `# yaml-language-server: $schema=../../schema/environment.schema.json
name: ${ENV}
description: A throwaway Debian host for the end-to-end tests, like ec2 but every provider is a local stand-in.
# A test environment: its gateway may be reached in plaintext on its own network namespace's address.
test: true
target:
  kind: ssh
  host: ${h.host}
  port: ${h.port}
  user: ubuntu
  hostKey: ${hostKey}
  privateKeySecret: TESTHOST_SSH_KEY${relayNote ? `\n  proxyCommand: ${JSON.stringify(relayProxyCommand(relayNote))}` : ''}
services: systemd
user: ubuntu
paths:
  state: ${STATE}
  proxies: ${PROXIES}
  runtime: ${RUNTIME}
runtime:
  node: ${VERSIONS.node}
  openclaw: ${openclaw}
gates:
  # The test hosts share the runner's cores with the rest of the suite, and a loaded runner starts
  # the gateway far slower than a server of its own would: a ceiling, not an expectation.
  timeoutSeconds: 900
gateway:
${tls
    ? `  # As on ec2: on loopback, behind Caddy; here for the host's own address, with Caddy's internal CA.
  bind: loopback
  tls:
    domain: ${h.host}
    issuer: internal
    lifetime: 7d
    # The internal CA's intermediate lives 7 days, and so does no certificate it signs longer.
    expiryWarningDays: 1
`
    : `  # Reachable from outside the host, here on its own network namespace's address, in plaintext.
  bind: lan
  publicUrl: http://${h.host}:${GATEWAY_PORT}
`}  controlUi:
    enabled: false
  auth:
    rateLimit: { maxAttempts: 10, windowMs: 60000, lockoutMs: 300000 }
providers:
  gemini:
    upstream: ${stub}/gemini/v1beta
  kimi:
    upstream: ${stub}/kimi/v1
  mistral:
    upstream: ${stub}/mistral/v1
  cerebras:
    baseUrl: ${stub}/cerebras/v1
  deepseek:
    baseUrl: ${stub}/deepseek/v1
  groq:
    baseUrl: ${stub}/groq/v1
  openrouter:
    baseUrl: ${stub}/openrouter/v1
${canary ? `  canary:
    baseUrl: ${stub}/canary/v1
` : ''}secrets:
  source: env
security:
  accept:
    - check: models.weak_tier
      reason: The chain's free OpenRouter step, as on ec2; here every provider is a local stand-in.
`;
}

// --- the host, as the tests look at it ------------------------------------------------------

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** The digest clawops records for a file (sensitive files keyed with the host's digest key). */
export function recordDigestOf(contentSha256: string, sensitive: boolean, key: string): string {
  return sensitive ? `hmac:${createHmac('sha256', key).update(contentSha256).digest('hex')}` : contentSha256;
}

/** MainPID and ActiveEnterTimestamp of each unit: they change exactly when a unit restarts. */
export async function unitStarts(e: E2E, units: readonly string[] = UNITS): Promise<Record<string, string>> {
  const out = await e.sh(units.map((u) => `echo "${u} $(systemctl show -p MainPID --value ${u}) $(systemctl show -p ActiveEnterTimestamp --value ${u})"`).join('; '));
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
}

export async function unitStates(e: E2E): Promise<Record<string, string>> {
  const out = await e.sh(UNITS.map((u) => `echo "${u} $(systemctl is-active ${u}) $(systemctl is-enabled ${u})"`).join('; '));
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
}

export async function currentRelease(e: E2E): Promise<ReleaseRecord> {
  return JSON.parse(await e.sh(`sudo cat ${CLAWOPS_DIR}/current/release.json`)) as ReleaseRecord;
}

export async function releaseRecord(e: E2E, id: string): Promise<ReleaseRecord> {
  return JSON.parse(await e.sh(`sudo cat ${CLAWOPS_DIR}/releases/${id}/release.json`)) as ReleaseRecord;
}

export async function releaseIds(e: E2E): Promise<string[]> {
  return (await e.sh(`sudo ls -1 ${CLAWOPS_DIR}/releases`)).split('\n').filter(Boolean).sort();
}

/** The recorded digest of every file a release manages, as the host's files are now. */
export async function hostDigests(e: E2E, paths: readonly string[], sensitive: (p: string) => boolean): Promise<Record<string, string | null>> {
  const key = (await e.sh(`sudo cat ${CLAWOPS_DIR}/digest.key`)).trim();
  const out = await e.sh(paths.map((p) => `if sudo test -e '${p}'; then echo "$(sudo sha256sum '${p}' | cut -d' ' -f1) ${p}"; else echo "- ${p}"; fi`).join('\n'));
  return Object.fromEntries(
    out.trim().split('\n').map((l) => {
      const [digest, path] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
      return [path, digest === '-' ? null : recordDigestOf(digest, sensitive(path), key)];
    }),
  );
}

/**
 * Which of the given releases the host's managed files match, file for file: exactly one id when
 * the host is whole, none when it is a mix.
 */
export async function matchingReleases(e: E2E, records: readonly ReleaseRecord[]): Promise<{ matches: string[]; mismatches: Record<string, string[]> }> {
  const paths = [...new Set(records.flatMap((r) => Object.keys(r.files)))].sort();
  const sensitive = (p: string) => records.some((r) => r.files[p]?.sensitive);
  const host = await hostDigests(e, paths, sensitive);
  const mismatches: Record<string, string[]> = {};
  for (const r of records) {
    mismatches[r.id] = paths.filter((p) => (r.files[p]?.digest ?? null) !== host[p]);
  }
  return { matches: records.filter((r) => mismatches[r.id]!.length === 0).map((r) => r.id), mismatches };
}

/** Runs the pinned OpenClaw CLI on the host with the gateway's own environment (as ubuntu). */
export async function openclawOnHost(e: E2E, args: string): Promise<string> {
  return e.sh(
    `set -a; . ${STATE}/gateway.env; set +a; export OPENCLAW_STATE_DIR=${STATE} OPENCLAW_CONFIG_PATH=${STATE}/openclaw.json NO_COLOR=1; ` +
      `cd ${STATE} && ${NODE} ${OPENCLAW} ${args}`,
  );
}

/** The stand-in upstream serves, for each provider, exactly the models the fallback chain names
 * (it answers 404 for any other). */
export async function serveChainModels(e: E2E): Promise<void> {
  await e.sh(
    'cat > /home/ubuntu/e2e-upstream-models.json',
    JSON.stringify({
      deepseek: ['deepseek-chat'],
      kimi: ['kimi-k2.5'],
      cerebras: ['llama-3.3-70b'],
      mistral: ['mistral-small-latest'],
      groq: ['meta-llama/llama-4-scout-17b-16e-instruct', 'llama-3.3-70b-versatile'],
      openrouter: ['meta-llama/llama-3.3-70b-instruct:free', 'openai/gpt-oss-120b:free', 'nousresearch/hermes-3-llama-3.1-405b:free'],
      gemini: ['gemini-2.5-flash', 'gemini-2.5-flash-lite'],
    }),
  );
}

/** What the running gateway reports as its applied config (`gateway call config.get`). */
export async function gatewayConfig(e: E2E): Promise<{ runtimeConfig: { agents: { defaults: { model: { primary: string; fallbacks: string[] } } }; models: { providers: Record<string, { baseUrl: string }> } }; appliedConfigHash: string; hash: string }> {
  const out = await openclawOnHost(e, 'gateway call config.get --json --timeout 60000');
  return JSON.parse(out.slice(out.indexOf('{'))) as Awaited<ReturnType<typeof gatewayConfig>>;
}

export async function startStubUpstream(e: E2E): Promise<void> {
  const program = await readFile(new URL('./upstream-stub.mjs', import.meta.url), 'utf8');
  await e.sh('cat > /home/ubuntu/e2e-upstream-stub.mjs', program);
  await e.sh(`: > ${STUB_RECORD}; sudo systemd-run --quiet --unit=e2e-upstream --uid=ubuntu --gid=ubuntu ${NODE} /home/ubuntu/e2e-upstream-stub.mjs ${STUB_PORT} ${STUB_RECORD}`);
  // Until it answers, for as long as its unit runs.
  await e.sh(`until curl -s -o /dev/null http://127.0.0.1:${STUB_PORT}/; do systemctl is-active -q e2e-upstream || exit 1; sleep 0.1; done`);
}

export async function stubRequests(e: E2E): Promise<{ path: string; model: string | null; keySha256: string | null }[]> {
  return (await e.sh(`cat ${STUB_RECORD}`)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; model: string | null; keySha256: string | null });
}

/** Every log clawops leaves on the host: each release's activate.log and progress, the audit log. */
export async function hostLogs(e: E2E): Promise<string> {
  return e.sh(`sudo bash -c 'cat ${CLAWOPS_DIR}/releases/*/activate.log ${CLAWOPS_DIR}/releases/*/progress ${CLAWOPS_DIR}/audit.log 2>/dev/null; true'`);
}

export function leakedSecrets(text: string, values: readonly string[]): string[] {
  return values.filter((v) => text.includes(v));
}
