import { DEFAULT_GATE_SECONDS, type DesiredState } from '../render/desired.js';
import { diff, finalContent, type SecretLookup } from '../plan/diff.js';
import { recordDigest, sha256 } from '../plan/digest.js';
import type { HostFacts, ReleaseRecord } from '../plan/facts.js';
import { hasChanges, type Plan } from '../plan/model.js';
import type { ConfigSummary } from '../plan/summary.js';
import { shellQuote, type Transport } from '../transport/transport.js';
import { activationScript } from './activate.js';
import { ApplyError, InterruptedError, NotApprovedError } from './errors.js';
import { asRoot, gatherFacts, must } from './host.js';
import { releaseId, releasePaths } from './layout.js';
import { acquireLock } from './lock.js';
import { architectureRefusal, caddyValidateCommand, ensureRuntime, nodeArch, type RuntimeSource } from './runtime.js';
import { CADDY } from '../render/caddy.js';
import { checkSpace } from './space.js';
import { hostSecretRecord, hostSecretsPaths, hostSecretsSpec, readSecretsShell, type HostSecrets } from './host-secrets.js';
import { brokenDecisions, sensitiveDecisions, type HostSecretVersions, type SensitiveDecision } from '../plan/secret-compare.js';
import { ensureFactsAccess } from './facts-access.js';
import type { InstalledChainPlan } from '../smoke/chain-program.js';

export type ApplyOutcome = 'applied' | 'no-changes' | 'rolled-back' | 'failed';

export interface ApplyInput {
  transport: Transport;
  desired: DesiredState;
  summary: ConfigSummary;
  secrets: SecretLookup;
  revision: string;
  holder: string;
  runtime: RuntimeSource;
  /**
   * Secrets the host reads itself (host-ssm): env files are staged as templates and filled on the
   * host at activation; they are compared by parameter version (`versions`), never by value.
   */
  hostSecrets?: HostSecrets & HostSecretVersions;
  /** The chain probe's plan, installed for the read-only facts user (`clawops-facts --chain`). */
  chainProbe?: InstalledChainPlan;
  /** From a saved plan: apply refuses when the host moved since. */
  expectedFactsDigest?: string;
  /** From a saved plan: apply refuses when a secret value changed since (Plan.secretsDigest). */
  expectedSecretsDigest?: string;
  /** From a saved plan: what it decided for each sensitive file; apply refuses when one no longer holds. */
  expectedSensitive?: Record<string, SensitiveDecision>;
  lockWaitMs?: number;
  breakLock?: boolean;
  /** Remove what systemd reads for a managed unit that clawops did not write; without it apply refuses. */
  prune?: boolean;
  /** A rollback across an OpenClaw version change: the copy of its state to put back. */
  restoreState?: { release: string; from: string; to: string };
  keepReleases?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  progress?: (line: string) => void;
  /** What a long step is doing now (bytes sent, seconds waited): shown in place on a terminal. */
  status?: (text: string) => void;
  /** Asked with the plan, under the lock, before anything changes; no means NotApprovedError. */
  approve?: (plan: Plan, signal?: AbortSignal) => Promise<boolean>;
  /**
   * Aborted on Ctrl-C or SIGTERM. Before the switch the apply stops at once, releases the lock
   * and throws InterruptedError; once the activation runs on the host it is left to finish there,
   * with the lock, and InterruptedError says so (`detached`).
   */
  signal?: AbortSignal;
}

export interface ApplyResult {
  outcome: ApplyOutcome;
  plan: Plan;
  release?: string;
  /** Lines the activation wrote on the host: steps, gates, the outcome. */
  log: string[];
  /** Why a switch was rolled back or failed: the host's first failing step (a gate, a write). */
  cause?: string;
  /** The release that was live when the apply began (null on a host without one). */
  previous?: string | null;
}

/**
 * Takes the host from its facts to the desired state as one transaction: lock, install what the
 * runtime lacks, stage the release, switch it in with one program run on the host, health-gate
 * it, roll back on a failed gate, record and unlock.
 */
export async function apply(input: ApplyInput): Promise<ApplyResult> {
  const { transport: t, desired } = input;
  const now = input.now ?? (() => new Date());
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const progress = input.progress ?? (() => {});
  const status = input.status ?? (() => {});

  // Every secret value must be at hand before the host is touched.
  const missing = input.hostSecrets ? [] : [...new Set(desired.files.flatMap((f) => Object.values(f.secrets ?? {})).filter((n) => input.secrets(n) === undefined))].sort();
  if (missing.length) throw new ApplyError(t.target, 'secrets', `no value for ${missing.join(', ')} in this environment's secret source`);

  // Before the switch an interruption ends the run at once; what was running goes on until the
  // process exits, and touches nothing live (a versioned runtime folder, a staged release).
  let step = 'lock';
  let live: string | null = null;
  const interrupted = () =>
    new InterruptedError(t.target, step, `interrupted before the switch: the host still runs ${live ? `release ${live}` : 'what it ran'}, and nothing live was changed`);
  const unlessInterrupted = <T>(work: Promise<T>): Promise<T> => {
    const signal = input.signal;
    if (!signal) return work;
    if (signal.aborted) return Promise.reject(interrupted());
    return new Promise<T>((resolve, reject) => {
      const stop = () => reject(interrupted());
      signal.addEventListener('abort', stop, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
    });
  };
  const next = (name: string) => {
    if (input.signal?.aborted) throw interrupted();
    step = name;
  };

  progress('lock');
  const lock = await acquireLock(t, desired.host, {
    holder: input.holder,
    revision: input.revision,
    waitMs: input.lockWaitMs ?? 120_000,
    breakStale: input.breakLock ?? false,
    now,
    sleep: (ms) => unlessInterrupted(sleep(ms)),
    notice: progress,
    asRoot: (words) => asRoot(desired, words),
    waiting: (holder, since, waitedMs, first) => {
      if (first) progress(`waiting for the lock: held by ${holder} since ${since} (up to ${Math.round((input.lockWaitMs ?? 120_000) / 1000)} s)`);
      status(`waiting for the lock held by ${holder}: ${Math.round(waitedMs / 1000)} s`);
    },
  });
  const heartbeat = setInterval(() => void lock.beat().catch(() => {}), 15_000);
  let detached = false;
  try {
    next('facts');
    progress('facts');
    const facts = await unlessInterrupted(gatherFacts(t, desired));
    live = facts.release?.id ?? null;
    if (facts.sudo && !facts.sudo.ok) {
      const u = facts.sudo.user;
      throw new ApplyError(
        t.target,
        'privileges',
        `${u} cannot run sudo without a password, which clawops needs to install the units, the runtime and files owned by others; nothing was changed. As root on the host: echo '${u} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-clawops && chmod 440 /etc/sudoers.d/90-clawops`,
      );
    }
    const plan = diff({
      desired,
      facts,
      summary: input.summary,
      secrets: input.secrets,
      ...(input.hostSecrets ? { hostSecrets: { prefix: input.hostSecrets.prefix, versions: input.hostSecrets.versions } } : {}),
      target: t.target,
      revision: input.revision,
    });
    // The lock the facts saw is this apply's own.
    delete plan.lock;
    if (input.restoreState) plan.openclawState = { action: 'restore', ...input.restoreState };
    if (input.expectedFactsDigest && input.expectedFactsDigest !== plan.factsDigest) {
      throw new ApplyError(t.target, 'plan', 'the host changed since this plan was made; make a new plan');
    }
    if (input.expectedSecretsDigest && input.expectedSecretsDigest !== plan.secretsDigest) {
      throw new ApplyError(t.target, 'plan', 'a secret value changed since this plan was made, so its env file would differ from what the plan showed; make a new plan');
    }
    const broken = input.expectedSensitive ? brokenDecisions(input.expectedSensitive, sensitiveDecisions(plan)) : [];
    if (broken.length) {
      throw new ApplyError(t.target, 'plan', `a sensitive file no longer is what this plan decided: ${broken.join(', ')}; make a new plan`);
    }
    if (plan.uncompared.length) {
      if (input.hostSecrets) throw new ApplyError(t.target, 'secrets', `the versions of the parameters under ${input.hostSecrets.prefix} could not be read here, so ${plan.uncompared.join(', ')} cannot be compared; nothing was changed`);
      throw new ApplyError(t.target, 'secrets', `no value for the secrets of ${plan.uncompared.join(', ')}`);
    }
    if (plan.overrides?.length && !input.prune) {
      const units = [...new Set(plan.overrides.map((o) => o.unit))].join(', ');
      throw new ApplyError(
        t.target,
        'overrides',
        `systemd reads files for ${units} that clawops did not write: ${plan.overrides.map((o) => o.path).join(', ')}; nothing was changed. An override may be deliberate: put what it does into the configuration, or apply with --prune to remove it`,
      );
    }
    const hostFetches = desired.host.runtime?.node.registry !== undefined && input.runtime.nodeTarball !== undefined && input.runtime.openclawTree !== undefined;
    const wrongArch = architectureRefusal(plan.runtime, facts.machine, hostFetches);
    if (wrongArch) throw new ApplyError(t.target, 'runtime', wrongArch);
    // The read-only facts user, when the environment declares one: set up on every apply (each of
    // its files is written only when it differs), whether or not the release changes; after the
    // question, when there is one.
    const factsUser = async () => {
      next('facts user');
      await unlessInterrupted(ensureFactsAccess(t, desired, progress, input.chainProbe));
    };
    if (!hasChanges(plan)) {
      await factsUser();
      return { outcome: 'no-changes', plan, log: [], previous: live };
    }
    next('approve');
    if (input.approve && !(await unlessInterrupted(input.approve(plan, input.signal)))) throw new NotApprovedError();
    await factsUser();

    next('runtime');
    await unlessInterrupted(ensureRuntime(t, desired, plan.runtime, input.runtime, progress, status, nodeArch(facts.machine ?? 'x86_64')));
    await lock.beat();
    const caddyfile = desired.files.find((f) => f.role === 'tls-config');
    if (caddyfile) {
      // Caddy's own verdict on the file before anything is switched: a file it refuses stops here.
      progress('validate caddy config');
      const r = await unlessInterrupted(t.run(caddyValidateCommand(CADDY.user, CADDY.home, CADDY.bin), { stdin: caddyfile.content, timeoutMs: 120_000 }));
      if (r.code !== 0) {
        const said = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l && !/"level":"(info|warn)"/.test(l)).slice(-2).join(' | ');
        throw new ApplyError(t.target, 'validate caddy config', `caddy validate refused ${caddyfile.path} (exit ${r.code}): ${said || 'no output'}; nothing was changed`);
      }
    }

    const id = releaseId(now(), input.revision, facts.releases);
    const previous = facts.release?.id ?? null;
    next('stage');
    progress(`stage release ${id}`);
    const p = await unlessInterrupted(stage(t, desired, facts, plan, input, id));
    next('activate');

    progress(`activate release ${id}`);
    const removed = Object.entries(facts.release?.files ?? {})
      .filter(([path]) => plan.files.some((f) => f.path === path && f.action === 'delete'))
      .map(([path, r]) => ({ path, name: r.name, mode: r.mode, ...(r.owner ? { owner: r.owner } : {}) }));
    const gateSeconds = desired.host.gateSeconds ?? DEFAULT_GATE_SECONDS;
    const script = activationScript({
      desired,
      plan,
      releaseId: id,
      previous,
      removed,
      pruned: (input.prune && plan.overrides?.map((o) => o.path)) || [],
      ...(facts.release?.health ? { previousHealth: facts.release.health } : {}),
      gateSeconds,
      audit: { holder: input.holder, revision: input.revision, planDigest: plan.factsDigest },
      ...(input.hostSecrets && desired.files.some((f) => f.secrets && plan.files.some((c) => c.path === f.path && c.action !== 'no-op'))
        ? { readSecrets: readSecretsShell(desired.host.runtime?.node.bin ?? 'node', p.release, input.hostSecrets) }
        : {}),
    });
    await t.put([{ path: p.script, content: script, mode: 0o700 }]);
    // setsid: the switch runs in its own session, so a dropped connection cannot stop it halfway.
    const follow = followActivation(t, p.progress, progress, status, gateSeconds, now);
    try {
      const activation = t.run(asRoot(desired, ['setsid', '--wait', 'bash', '-c', `bash '${p.script}' > '${p.log}' 2>&1`]), { timeoutMs: 900_000 });
      const cut = await Promise.race([activation.then(() => false), aborted(input.signal)]);
      // Interrupted during the switch: the activation goes on on the host, in its own session, and
      // releases the lock when it ends, since this run will not. Unless it has ended already.
      if (cut && !(await detach(t, p))) {
        detached = true;
        throw new InterruptedError(
          t.target,
          'activate',
          `interrupted during the switch to release ${id}: the switch goes on on the host and releases the lock when it ends (drift then says what is live; the host keeps its log in ${p.log})`,
          true,
        );
      }
      if (cut) await activation.catch(() => {});
    } finally {
      await follow.stop();
    }
    const result = await t.run(['bash', '-c', `cat '${p.result}' 2>/dev/null; echo ---; cat '${p.progress}' 2>/dev/null`]);
    const [outcomeText, log = ''] = result.stdout.split('---\n');
    const outcome = (outcomeText?.trim() || 'failed') as ApplyOutcome;
    const lines = log.split('\n').filter(Boolean);
    for (const line of lines.slice(follow.shown())) progress(`  ${line}`);
    if (outcome === 'applied') await prune(t, desired, id, previous, input.keepReleases ?? 5);
    const cause = lines.find((l) => /^(gate failed|write failed|secrets failed)/.test(l));
    return { outcome, plan, release: id, log: lines, previous, ...(cause && outcome !== 'applied' ? { cause } : {}) };
  } finally {
    clearInterval(heartbeat);
    if (!detached) await lock.release().catch(() => {});
  }
}

/** Resolves true once the signal aborts; never resolves without one. */
function aborted(signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve(true);
    else signal?.addEventListener('abort', () => resolve(true), { once: true });
  });
}

/**
 * Leaves the running activation the lock: marks the release `detached` (the script releases the
 * lock at its end when it finds the mark), then looks for its result. Written in that order, and
 * the script writes its result before it looks for the mark, so one of the two always releases.
 * True when the activation had already ended (this run then ends it as usual).
 */
async function detach(t: Transport, p: ReturnType<typeof releasePaths>): Promise<boolean> {
  const r = await t.run(['bash', '-c', `touch '${p.release}/detached' && if [ -e '${p.result}' ]; then echo ENDED; fi`]).catch(() => null);
  return r?.stdout.includes('ENDED') ?? false;
}

/**
 * Follows the activation's progress file while it runs, once a second: each new line is a step as
 * it happens (restarts, health gates), and what it waits on is the status.
 */
function followActivation(t: Transport, file: string, progress: (line: string) => void, status: (text: string) => void, gateSeconds: number, now: () => Date) {
  let shown = 0;
  let stopped = false;
  let wake = () => {};
  let since = now().getTime();
  let last = '';
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopped) break;
      const r = await t.run(['cat', file]).catch(() => null);
      const lines = r?.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
      for (const line of lines.slice(shown)) progress(`  ${line}`);
      if (lines.length > shown) {
        shown = lines.length;
        last = lines.at(-1)!;
        since = now().getTime();
      }
      const waited = Math.round((now().getTime() - since) / 1000);
      const unit = /^restart (\S+)$/.exec(last)?.[1];
      status(unit ? `waiting for ${unit} to pass its health gate: ${waited} s of ${gateSeconds} s` : `activating: ${last || 'starting'} (${waited} s)`);
    }
  })();
  return {
    shown: () => shown,
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}

async function stage(t: Transport, desired: DesiredState, facts: HostFacts, plan: Plan, input: ApplyInput, id: string) {
  const p = releasePaths(desired.host, id);
  const key = facts.digestKey ?? (await must(t, 'digest key', ['cat', p.digestKey])).trim();
  const dirs = [...new Set(desired.files.map((f) => `${p.files}/${f.name}`.replace(/\/[^/]+$/, '')))];
  const files: ReleaseRecord['files'] = {};
  const hs = input.hostSecrets;
  const changed = new Set(plan.files.filter((c) => c.action !== 'no-op').map((c) => c.path));
  const copies: string[] = [];
  const uploads = desired.files.flatMap((f) => {
    const base = { sensitive: f.sensitive, name: f.name, mode: f.mode, ...(f.owner ? { owner: f.owner } : {}) };
    if (f.fromHost) {
      // Taken back from a kept release on the host itself: its values never come here.
      files[f.path] = { digest: f.fromHost.digest, ...base };
      copies.push(`install -m 600 ${shellQuote([f.fromHost.path])} ${shellQuote([`${p.files}/${f.name}`])}`);
      return [];
    }
    if (hs && f.secrets) {
      // Staged as its template: the host fills it in at activation, and completes its record.
      files[f.path] = { ...base, ...hostSecretRecord(f, facts.release?.files[f.path], changed.has(f.path)) };
      return [{ path: `${p.files}/${f.name}`, content: f.content, mode: 0o600 }];
    }
    const content = finalContent(f, input.secrets);
    if (content === undefined) throw new ApplyError(t.target, 'secrets', `no value for the secrets of ${f.path}`);
    files[f.path] = { digest: recordDigest(sha256(content), f.sensitive, key), ...base };
    return [{ path: `${p.files}/${f.name}`, content, mode: f.sensitive ? 0o600 : 0o644 }];
  });
  if (hs) {
    const at = hostSecretsPaths(p.release);
    uploads.push(
      { path: at.program, content: hs.program, mode: 0o644 },
      { path: at.spec, content: `${JSON.stringify(hostSecretsSpec(desired, plan, id, hs), null, 2)}\n`, mode: 0o644 },
    );
  }
  const record: ReleaseRecord = {
    id,
    revision: input.revision,
    appliedAt: (input.now ?? (() => new Date()))().toISOString(),
    planDigest: plan.factsDigest,
    files,
    ...(desired.folders?.length ? { folders: Object.fromEntries(desired.folders.map((f) => [f.path, { mode: f.mode, ...(f.owner ? { owner: f.owner } : {}) }])) } : {}),
    units: desired.units.map((u) => u.name),
    ...(desired.host.runtime ? { runtime: { node: desired.host.runtime.node.version, ...(desired.host.runtime.openclaw ? { openclaw: desired.host.runtime.openclaw.version } : {}) } } : {}),
    health: Object.fromEntries(desired.units.map((u) => [u.name, u.health])),
    summary: input.summary,
  };
  const all = [
    ...uploads,
    { path: p.record, content: `${JSON.stringify(record, null, 2)}\n`, mode: 0o644 },
    { path: p.paths, content: `${desired.files.map((f) => f.path).join('\n')}\n`, mode: 0o644 },
  ];
  const need = [{ dir: p.release, bytes: all.reduce((n, f) => n + Buffer.byteLength(f.content), 0), what: `release ${id}` }];
  await checkSpace(t, 'stage', need);
  await must(t, 'stage', ['mkdir', '-p', ...dirs]);
  try {
    await t.put(all);
    if (copies.length) await must(t, 'stage', ['bash', '-c', `set -e; ${copies.join('; ')}`]);
  } catch (err) {
    // A disk filled since the check: say so rather than the SFTP server's "Failure", and leave no
    // half-staged release behind.
    await t.run(['rm', '-rf', p.release]).catch(() => {});
    await checkSpace(t, 'stage', need);
    throw err;
  }
  return p;
}

/** Keeps the newest releases (and always the current and previous one). */
async function prune(t: Transport, desired: DesiredState, current: string, previous: string | null, keep: number): Promise<void> {
  const p = releasePaths(desired.host, current);
  const out = await t.run(['ls', '-1', p.releases]);
  const all = out.stdout.split('\n').filter(Boolean).sort();
  const drop = all.slice(0, Math.max(0, all.length - keep)).filter((r) => r !== current && r !== previous);
  if (drop.length) await t.run(['rm', '-rf', ...drop.map((r) => `${p.releases}/${r}`)]);
}
