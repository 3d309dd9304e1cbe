import type { DesiredFile, DesiredState } from '../render/desired.js';
import { envWithValues } from '../render/envfile.js';
import { PROBE_FAILED } from '../audit/findings.js';
import { keyedDigest, keyedFileDigest, sha256 } from './digest.js';
import { isLoopback, isWildcard, type HostFacts } from './facts.js';
import type { FileChange, ListenerDrift, Override, Plan, RuntimeChange, ServiceChange } from './model.js';
import { semanticDiff, type ConfigSummary } from './summary.js';
import { compareSecretFile, hostSecretsState, type HostSecretVersions } from './secret-compare.js';

/** Secret values by name, for filling env files; undefined when they are not available here. */
export type SecretLookup = (name: string) => string | undefined;

export interface DiffInput {
  desired: DesiredState;
  facts: HostFacts;
  summary: ConfigSummary;
  secrets?: SecretLookup;
  /** Secrets the host reads itself (host-ssm): env files are compared by parameter version, not value. */
  hostSecrets?: HostSecretVersions;
  target: string;
  revision: string;
}

/**
 * A fingerprint of the host's state as a plan saw it. The lock and the key itself are left out: the
 * apply that checks it holds the lock. Nor whether the login may sudo: the read-only user's facts
 * and apply's must agree, and so a file of the live release that holds secrets counts by its keyed
 * digest however the host reported it (the read-only user gets it keyed, never the key).
 */
export function factsDigest(facts: HostFacts): string {
  const { lock: _lock, digestKey, sudo: _sudo, ...state } = facts;
  const released = facts.release?.files ?? {};
  const files = Object.fromEntries(
    Object.entries(state.files).map(([path, fact]) =>
      fact && released[path]?.sensitive && /^[0-9a-f]{64}$/.test(fact.sha256) ? [path, { ...fact, sha256: keyedFileDigest(fact.sha256, digestKey) ?? 'unkeyed' }] : [path, fact],
    ),
  );
  return keyedDigest({ ...state, files }, 'clawops-facts');
}

/** The content a file will have on the host: env files with their values, when they are known. */
export function finalContent(file: DesiredFile, secrets: SecretLookup | undefined): string | undefined {
  if (!file.secrets) return file.content;
  if (!secrets) return undefined;
  const missing = Object.values(file.secrets).filter((s) => secrets(s) === undefined);
  if (missing.length) return undefined;
  return envWithValues(file.secrets, (s) => secrets(s)!);
}

const modeOf = (m: number) => m.toString(8);

/**
 * A new OpenClaw version over a live release keeps a copy of the state the new version may
 * migrate. The version that ran is the live release's (installed side by side, the new one may
 * be on the host already); a release that does not record it is taken to have run what is installed.
 */
function stateCopy(runtime: RuntimeChange[], facts: HostFacts, desired: DesiredState): Pick<Plan, 'openclawState'> {
  const to = desired.host.runtime?.openclaw?.version;
  const from = facts.release?.runtime?.openclaw ?? runtime.find((r) => r.component === 'openclaw')?.from;
  if (!to || !from || from === to || !facts.release || !desired.units.some((u) => u.kind === 'gateway')) return {};
  return { openclawState: { action: 'copy', from, to } };
}

/**
 * What systemd reads for each managed unit besides the unit file clawops writes. Drop-ins the
 * distribution ships for every service alike (service.d/ under /usr/lib or /lib) are its defaults,
 * not an override of this unit; one in the unit's own folder is, wherever it lies.
 */
export function unitOverrides(desired: DesiredState, facts: HostFacts): Override[] {
  const out: Override[] = [];
  for (const unit of desired.units) {
    const fact = facts.units[unit.name];
    if (!fact) continue;
    const own = desired.files.find((f) => f.role === 'unit' && f.path.endsWith(`/${unit.name}`))?.path;
    if (fact.fragment && own && fact.fragment !== own) out.push({ unit: unit.name, path: fact.fragment, kind: 'unit file' });
    for (const path of fact.dropIns ?? []) {
      const folder = path.split('/').at(-2);
      if (/^\/(usr\/)?lib\/systemd\//.test(path) && folder !== `${unit.name}.d`) continue;
      out.push({ unit: unit.name, path, kind: 'drop-in' });
    }
  }
  return out;
}

/**
 * Where each running unit listens against where it must: a proxy on loopback only, the gateway as
 * its bind mode says (loopback only, or every address for lan). A unit not running, or not yet
 * listening, is left to the service checks.
 */
export function listenerDrift(desired: DesiredState, facts: HostFacts): ListenerDrift[] {
  if (!facts.listeners) return [];
  const out: ListenerDrift[] = [];
  for (const unit of desired.units) {
    if (facts.units[unit.name]?.active !== 'active') continue;
    const found = facts.listeners[String(unit.port)] ?? [];
    if (!found.length) continue;
    const ok = unit.bind === 'loopback' ? found.every(isLoopback) : found.some(isWildcard);
    if (!ok) out.push({ unit: unit.name, port: unit.port, expected: unit.bind, found });
  }
  return out;
}

/**
 * The host's deep audit (drift) against the release: each critical finding, and each warning the
 * environment does not accept and the apply's own audit did not find.
 */
export function newSecurityFindings(desired: DesiredState, facts: HostFacts): Plan['securityAudit'] {
  if (!facts.audit) return undefined;
  if ('error' in facts.audit) return { error: facts.audit.error };
  const accepted = new Set((desired.acceptedFindings ?? []).map((a) => a.check));
  const recorded = new Set((facts.release?.securityFindings ?? []).map((f) => `${f.severity} ${f.checkId}`));
  const newFindings = facts.audit.findings.filter(
    (f) => f.checkId !== PROBE_FAILED && (f.severity === 'critical' || (f.severity === 'warn' && !accepted.has(f.checkId) && !recorded.has(`warn ${f.checkId}`))),
  );
  return { newFindings };
}

/**
 * Desired state against facts: what apply would change, and why. Pure; the same inputs give the
 * same plan. A no-op carries its reason too.
 */
export function diff({ desired, facts, summary, secrets, hostSecrets, target, revision }: DiffInput): Plan {
  const files: FileChange[] = [];
  const uncompared: string[] = [];
  const key = facts.digestKey;
  const released = facts.release?.files ?? {};

  for (const f of desired.files) {
    const fact = facts.files[f.path] ?? null;
    const content = finalContent(f, secrets);
    const base = { path: f.path, role: f.role, sensitive: f.sensitive };
    if (!fact) {
      // A file the live release wrote and the host no longer has was removed there by hand.
      const deleted = facts.release !== null && released[f.path] !== undefined;
      files.push({ ...base, action: 'create', reason: deleted ? 'deleted on the host' : 'absent on the host', ...(deleted ? { cause: 'changed-on-host' as const } : {}) });
      continue;
    }
    const reasons: string[] = [];
    let unknown: string | undefined;
    if (f.fromHost) {
      if (keyedFileDigest(fact.sha256, key) !== f.fromHost.digest) reasons.push('content differs');
    } else if (f.secrets) {
      const compared = compareSecretFile(f, fact, released[f.path], { content, ...(hostSecrets ? { host: hostSecrets } : {}), key });
      if ('unknown' in compared) unknown = compared.unknown;
      else reasons.push(...compared.differs);
    } else if (content !== undefined && sha256(content) !== fact.sha256) {
      reasons.push('content differs');
    }
    if (unknown) uncompared.push(f.path);
    if (fact.mode !== modeOf(f.mode)) reasons.push(`mode ${fact.mode} → ${modeOf(f.mode)}`);
    if (f.owner && fact.owner !== f.owner) reasons.push(`owner ${fact.owner} → ${f.owner}`);
    if (!reasons.length) {
      files.push({ ...base, action: 'no-op', reason: unknown ?? 'unchanged' });
      continue;
    }
    // The host as the last release wrote it (content, mode and owner): the repository moved, not
    // the host. A file that release did not manage is the repository's move too.
    const rec = released[f.path];
    const hostAsReleased =
      rec === undefined || (rec.digest === (rec.sensitive ? keyedFileDigest(fact.sha256, key) : fact.sha256) && fact.mode === modeOf(rec.mode) && (!rec.owner || fact.owner === rec.owner));
    files.push({
      ...base,
      action: 'update',
      reason: reasons.join(', '),
      ...(facts.release ? { cause: hostAsReleased ? ('not-yet-applied' as const) : ('changed-on-host' as const) } : {}),
    });
  }

  // Folders kept at a mode and owner: OpenClaw's state folder, private to its user.
  for (const d of desired.folders ?? []) {
    const fact = facts.folders?.[d.path] ?? null;
    const base = { path: d.path, role: 'folder' as const, sensitive: false };
    if (!fact) {
      files.push({ ...base, action: 'create', reason: 'absent on the host' });
      continue;
    }
    const reasons = [
      ...(fact.mode !== modeOf(d.mode) ? [`mode ${fact.mode} → ${modeOf(d.mode)}`] : []),
      ...(d.owner && fact.owner !== d.owner ? [`owner ${fact.owner} → ${d.owner}`] : []),
    ];
    if (!reasons.length) {
      files.push({ ...base, action: 'no-op', reason: 'unchanged' });
      continue;
    }
    // A release that kept this folder left it as desired: the host moved. One from before clawops
    // kept folders did not set it, and the repository moved.
    const rec = facts.release?.folders?.[d.path];
    const hostAsReleased = !rec || (fact.mode === modeOf(rec.mode) && (!rec.owner || fact.owner === rec.owner));
    files.push({
      ...base,
      action: 'update',
      reason: reasons.join(', '),
      ...(facts.release ? { cause: hostAsReleased ? ('not-yet-applied' as const) : ('changed-on-host' as const) } : {}),
    });
  }

  // Files the last release managed that are no longer desired.
  const desiredPaths = new Set(desired.files.map((f) => f.path));
  for (const [path, rec] of Object.entries(released)) {
    if (desiredPaths.has(path) || !facts.files[path]) continue;
    files.push({ path, role: 'previous-release', action: 'delete', reason: 'no longer in the configuration', sensitive: rec.sensitive });
  }
  files.sort((a, b) => a.path.localeCompare(b.path));

  const runtime: RuntimeChange[] = [];
  if (desired.host.runtime) {
    for (const component of ['node', 'openclaw'] as const) {
      const to = desired.host.runtime[component]?.version;
      if (!to) continue;
      const from = facts.runtime[component];
      runtime.push({ component, from, to, action: from === to ? 'no-op' : 'install' });
    }
  }
  for (const name of desired.host.packages ?? []) {
    if (name !== 'caddy') continue;
    const from = facts.packages?.[name] ?? null;
    runtime.push({ component: name, from, to: from ?? "Debian's archive (apt)", action: from ? 'no-op' : 'install' });
  }

  const changed = new Set(files.filter((f) => f.action !== 'no-op').map((f) => f.path));
  const services: ServiceChange[] = [];
  const overrides = desired.services === 'none' ? [] : unitOverrides(desired, facts);
  if (desired.services !== 'none') {
    for (const unit of desired.units) {
      const fact = facts.units[unit.name];
      const enable = fact?.enabled !== 'enabled';
      const overridden = overrides.filter((o) => o.unit === unit.name).map((o) => o.path.replace(/^.*\//, ''));
      const inputs = unit.restartOn.filter((p) => changed.has(p));
      const restartBy = [...inputs, ...overridden];
      const reloadBy = unit.reloadOn.filter((p) => changed.has(p));
      const names = (ps: string[]) => ps.map((p) => p.replace(/^.*\//, '')).join(', ');
      if (fact?.active !== 'active') {
        services.push({ name: unit.name, action: 'start', reason: `not running (${fact?.active ?? 'not installed'})`, enable });
      } else if (restartBy.length) {
        const why = [inputs.length ? `inputs changed: ${names(inputs)}` : '', overridden.length ? `without ${overridden.join(', ')}, which clawops did not write` : ''];
        services.push({ name: unit.name, action: 'restart', reason: why.filter(Boolean).join('; '), enable });
      } else if (reloadBy.length) {
        services.push({ name: unit.name, action: 'reload', reason: `${names(reloadBy)} changed: picked up by hot reload, no restart`, enable });
      } else {
        services.push({ name: unit.name, action: 'no-op', reason: 'active, inputs unchanged', enable });
      }
    }
    // Units of the system that must not run: stopped and disabled, each for its reason.
    for (const { unit, reason } of desired.host.disable ?? []) {
      const fact = facts.units[unit];
      if (fact && (fact.active === 'active' || fact.active === 'activating' || fact.enabled === 'enabled')) {
        services.push({ name: unit, action: 'stop', reason: `${fact.active}, ${fact.enabled}: ${reason}`, enable: false });
      }
    }
    const desiredUnits = new Set(desired.units.map((u) => u.name));
    for (const name of facts.release?.units ?? []) {
      if (!desiredUnits.has(name)) services.push({ name, action: 'stop', reason: 'no longer in the configuration', enable: false });
    }
  }

  const listeners = desired.services === 'none' ? [] : listenerDrift(desired, facts);
  const securityAudit = newSecurityFindings(desired, facts);
  const daemonReload = overrides.length > 0 || files.some((f) => f.action !== 'no-op' && (f.role === 'unit' || (f.role === 'previous-release' && f.path.endsWith('.service'))));
  return {
    environment: desired.environment,
    target,
    revision,
    factsDigest: factsDigest(facts),
    files,
    services,
    runtime,
    daemonReload,
    semantic: semanticDiff(facts.release?.summary ?? null, summary),
    uncompared,
    // Values at hand: only with every one (a pull request's plan has none, and leaves those files
    // to apply, each one's decision saved on its own: secret-compare.ts).
    ...(hostSecrets
      ? { secretsDigest: keyedDigest(hostSecretsState(desired.files, hostSecrets), 'clawops-parameter-versions') }
      : secrets && key !== null && !uncompared.length
        ? { secretsDigest: keyedDigest(Object.fromEntries(desired.files.filter((f) => f.secrets).map((f) => [f.path, sha256(finalContent(f, secrets) ?? '')])), key) }
        : {}),
    ...(overrides.length ? { overrides } : {}),
    ...(listeners.length ? { listeners } : {}),
    ...(securityAudit ? { securityAudit } : {}),
    ...stateCopy(runtime, facts, desired),
    ...(desired.acceptedFindings?.length ? { acceptedFindings: desired.acceptedFindings.map((a) => ({ ...a })) } : {}),
    ...(facts.lock ? { lock: { holder: facts.lock.holder, since: facts.lock.since, alive: facts.lock.alive, ...(facts.lock.rebooted ? { rebooted: true } : {}) } } : {}),
  };
}
