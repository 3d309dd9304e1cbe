// Real Debian bookworm test hosts for end-to-end tests: systemd as PID 1 and sshd, booted with
// systemd-nspawn by scripts/testhost/up.sh, each in its own network namespace (see that script).
//
//   const host = await startTestHost('e2e-apply');
//   try { ... ssh -i host.privateKeyPath ubuntu@host.host ... } finally { await host.stop(); }
//
// startTestHost THROWS when the host cannot be brought up (no root, no nspawn, boot timeout...):
// a test that needs a real host must fail, never silently skip, when it has none.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './spawn.js';

const scriptsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/testhost');
const upScript = path.join(scriptsDir, 'up.sh');
const downScript = path.join(scriptsDir, 'down.sh');
const crashScript = path.join(scriptsDir, 'crash.sh');

export interface TestHost {
  /** The name given to startTestHost (also the host's hostname). */
  name: string;
  /** Address to ssh to (10.213.<n>.2 in its own network namespace). */
  host: string;
  port: number;
  /** Login user: `ubuntu`, passwordless sudo. */
  user: string;
  /** Client private key (ed25519, generated for this host only) authorised for `user`. */
  privateKeyPath: string;
  /** `host key-type base64`, ready for a known_hosts file (`[host]:port ...` when port != 22). */
  knownHostsLine: string;
  /** A known_hosts file holding just knownHostsLine. */
  knownHostsPath: string;
  /** The host key's fingerprint, `SHA256:...` as ssh-keygen -l prints it. */
  hostKeyFingerprint: string;
  /** An ssh_config with a `Host <name>` entry: `ssh -F sshConfigPath name cmd`. */
  sshConfigPath: string;
  /** PID of the host's systemd-nspawn process. */
  pid: number;
  stateDir: string;
  /** The container's console (boot messages), for debugging a failed test. */
  consoleLog: string;
  /** ssh options that pin this host's key and use the client key, without a config file
   * (they include `-p PORT`; scp and rsync -e take the port differently). */
  sshOptions: string[];
  /** Runs a command on the host over ssh (as `user`; use `sudo` inside for root). Never throws
   * on a non-zero exit: check `code`. */
  run(command: string, options?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Cuts the host's power (crash.sh): every process killed at once, its disk kept. */
  crash(): Promise<void>;
  /** Boots a crashed host again on the disk it had (up.sh --again), waiting for its ssh login. */
  bootAgain(): Promise<void>;
  /** Stops the host and removes all its state (runs down.sh). Idempotent. */
  stop(): Promise<void>;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StartTestHostOptions {
  /** Upper bound for up.sh as a whole, including a first build of the base rootfs (~1.5-2.5 min
   * on a cold cache). Default 10 minutes. */
  timeoutMs?: number;
  /** Extra environment for up.sh/down.sh, e.g. CLAWOPS_TESTHOST_BOOT_TIMEOUT. */
  env?: NodeJS.ProcessEnv;
  /** Read-only image layers over the base rootfs, topmost first (e.g. ensureRuntimeImage's). */
  layers?: readonly string[];
}

/** What up.sh writes to host.json: the host's data, without the helpers added here. */
type HostJson = Omit<TestHost, 'sshOptions' | 'run' | 'stop'>;

// The scripts need root (mounts, namespaces, cgroups). As root run them directly; otherwise
// through non-interactive sudo, which fails fast (and so throws) where it is not allowed.
function scriptCommand(script: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['bash', [script, ...args]];
  return ['sudo', ['-n', '--preserve-env=CLAWOPS_TESTHOST_STATE,CLAWOPS_TESTHOST_CACHE,CLAWOPS_TESTHOST_NET,CLAWOPS_TESTHOST_LAYERS,CLAWOPS_TESTHOST_BOOT_TIMEOUT', 'bash', script, ...args]];
}

function runProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string }): Promise<RunResult> {
  return runCommand(cmd, args, { env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

function tail(text: string, lines = 60): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// Hosts not yet stopped when the test process exits are stopped synchronously, so a test that
// forgets stop() (or fails before reaching it) does not leave a container running.
const running = new Set<string>();
let exitHookInstalled = false;
function installExitHook(env: NodeJS.ProcessEnv | undefined): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test file stopped from outside (the suite's budget, a cancelled CI job) stops its hosts too.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('exit', () => {
    for (const name of running) {
      const [cmd, args] = scriptCommand(downScript, [name]);
      spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 60_000 });
    }
  });
}

export async function startTestHost(name: string, options: StartTestHostOptions = {}): Promise<TestHost> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const env = { ...options.env, ...(options.layers?.length ? { CLAWOPS_TESTHOST_LAYERS: options.layers.join(':') } : {}) };

  // A host of this name left running by an earlier, crashed run would make up.sh refuse; clear
  // it first (down.sh is idempotent and quick when there is nothing to stop).
  const [downCmd0, downArgs0] = scriptCommand(downScript, [name]);
  await runProcess(downCmd0, downArgs0, { env, timeoutMs: 600_000 });

  const [cmd, args] = scriptCommand(upScript, [name]);
  running.add(name);
  installExitHook(env);
  let up: RunResult;
  try {
    up = await runProcess(cmd, args, { env, timeoutMs });
  } catch (err) {
    running.delete(name);
    throw new Error(`test host '${name}' did not come up: ${(err as Error).message}`);
  }
  if (up.code !== 0) {
    running.delete(name); // up.sh tears down after itself on failure
    throw new Error(`test host '${name}' did not come up (up.sh exit ${up.code}):\n${tail(up.stderr)}`);
  }
  const jsonPath = up.stdout.trim();
  let info: HostJson;
  try {
    info = JSON.parse(await readFile(jsonPath, 'utf8')) as HostJson;
  } catch (err) {
    throw new Error(`test host '${name}': cannot read host.json at '${jsonPath}': ${(err as Error).message}`);
  }

  const sshOptions = [
    '-i', info.privateKeyPath,
    '-p', String(info.port),
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${info.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
  ];

  let stopping: Promise<void> | undefined;
  return {
    name: info.name,
    host: info.host,
    port: info.port,
    user: info.user,
    privateKeyPath: info.privateKeyPath,
    knownHostsLine: info.knownHostsLine,
    knownHostsPath: info.knownHostsPath,
    hostKeyFingerprint: info.hostKeyFingerprint,
    sshConfigPath: info.sshConfigPath,
    pid: info.pid,
    stateDir: info.stateDir,
    consoleLog: info.consoleLog,
    sshOptions,
    run(command, runOptions = {}) {
      return runProcess('ssh', [...sshOptions, `${info.user}@${info.host}`, command], {
        timeoutMs: runOptions.timeoutMs ?? 120_000,
        ...(runOptions.input !== undefined ? { input: runOptions.input } : {}),
      });
    },
    async crash() {
      const [c, a] = scriptCommand(crashScript, [name]);
      const res = await runProcess(c, a, { env, timeoutMs: 120_000 });
      if (res.code !== 0) throw new Error(`test host '${name}': crash.sh exit ${res.code}:\n${tail(res.stderr)}`);
    },
    async bootAgain() {
      const [c, a] = scriptCommand(upScript, ['--again', name]);
      const res = await runProcess(c, a, { env, timeoutMs });
      if (res.code !== 0) throw new Error(`test host '${name}' did not boot again (up.sh exit ${res.code}):\n${tail(res.stderr)}`);
    },
    stop() {
      stopping ??= (async () => {
        const [c, a] = scriptCommand(downScript, [name]);
        const res = await runProcess(c, a, { env, timeoutMs: 600_000 });
        running.delete(name);
        if (res.code !== 0) {
          throw new Error(`test host '${name}': down.sh exit ${res.code}:\n${tail(res.stderr)}`);
        }
      })();
      return stopping;
    },
  };
}
