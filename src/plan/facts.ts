import type { DesiredState } from '../render/desired.js';
import type { ConfigSummary } from './summary.js';
import { FACTS_PROGRAM_NAME, factsArgs, factsAudit, factsProgramText, unsafeFactsArgs } from './facts-program.js';

export interface FileFact {
  /** The content's sha256; for a file holding secrets, keyed on the host ("hmac:…", as the release
   * records it) once the host has its digest key; "symlink" or "unreadable" otherwise. */
  sha256: string;
  /** Octal, such as "600". */
  mode: string;
  owner: string;
}

export interface UnitFact {
  /** systemctl is-active: active, inactive, failed, activating… */
  active: string;
  /** systemctl is-enabled: enabled, disabled, not-found… */
  enabled: string;
  /** The unit file systemd loaded it from (FragmentPath), when there is one. */
  fragment?: string;
  /** Drop-ins systemd applies to it (DropInPaths): /etc, /run and /usr alike. */
  dropIns?: string[];
}

/** What clawops records on the host for each release it switched to. */
export interface ReleaseRecord {
  id: string;
  revision: string;
  appliedAt: string;
  /** Keyed digest of the plan that produced it. */
  planDigest: string;
  /** Digest of every managed file as written; sensitive files keyed (HMAC), never bare. */
  files: Record<
    string,
    {
      digest: string;
      sensitive: boolean;
      name: string;
      mode: number;
      owner?: string;
      /** An env file the host filled from Parameter Store (host-ssm): sha256 of its template (names only). */
      template?: string;
      /** …and the version of each parameter it holds, by parameter name, as the host read them. */
      parameters?: Record<string, number>;
    }
  >;
  /** Folders it kept at a mode and owner (absent from records made before it kept any). */
  folders?: Record<string, { mode: number; owner?: string }>;
  units: string[];
  /** The runtime it ran on (absent from records made before it was kept). */
  runtime?: { node: string; openclaw?: string };
  /**
   * What OpenClaw's deep security audit found on the host after the apply that made it live (and
   * after each apply that found nothing to change): checkId and severity, never the finding's text.
   */
  securityFindings?: { checkId: string; severity: string }[];
  /** Unit → the URL its health gate checks in this release (absent from records made before it was kept). */
  health?: Record<string, string>;
  summary: ConfigSummary;
}

export interface LockFact {
  holder: string;
  since: string;
  revision: string;
  /** Whether any process recorded in the lock is still running. */
  alive: boolean;
  /** Taken before the host last started: its apply was cut by a power cut or a restart. */
  rebooted?: boolean;
}

export interface HostFacts {
  files: Record<string, FileFact | null>;
  /** Folders the desired state keeps at a mode and owner: what the host has, or null when absent. */
  folders?: Record<string, { mode: string; owner: string } | null>;
  units: Record<string, UnitFact>;
  runtime: { node: string | null; openclaw: string | null };
  /** Debian packages the desired state needs (DesiredState.host.packages): installed version, or null. */
  packages?: Record<string, string | null>;
  release: ReleaseRecord | null;
  releases: string[];
  lock: LockFact | null;
  /** The host's key for digests of sensitive files (from .clawops/digest.key); never printed. */
  digestKey: string | null;
  /** On a systemd host: whether the SSH user may run sudo without a password, as apply must. */
  sudo?: { ok: boolean; user: string };
  /** The host's machine architecture as `uname -m` says it (x86_64, aarch64…), where a runtime is pinned. */
  machine?: string;
  /** Listening TCP sockets on the managed units' ports: port → local addresses (absent from older probes). */
  listeners?: Record<string, string[]>;
  /** The host's deep security audit, when asked for (drift): each finding's severity, checkId and title, or why it did not run. */
  audit?: { findings: { severity: string; checkId: string; title: string }[] } | { error: string };
}

/** Every path a probe looks at: desired files, and the files of the release on the host. */
export function probedPaths(state: DesiredState, extra: readonly string[] = []): string[] {
  return [...new Set([...state.files.map((f) => f.path), ...extra])].sort();
}

/** systemctl for the environment's service manager: the system's, or the operator's own (--user). */
export function systemctl(state: Pick<DesiredState, 'services'>): string[] {
  return state.services === 'user' ? ['systemctl', '--user'] : ['systemctl'];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Shell lines that set $alive to 1 when the lock folder `lockDir` (a shell word) has a live holder,
 * else 0: a process it recorded still runs (an activation), or its holder beat within 60 s. One
 * rule for the plan's facts and for apply's lock. /proc, not `kill -0`: the activation runs as
 * root, and kill -0 from the connecting user fails on it (EPERM).
 *
 * A lock taken before the host last started ($reboot=1: its boot id is not this boot's) has no
 * holder left, however fresh its heartbeat or whatever process now has a pid it recorded: the
 * host lost its power or restarted during that apply.
 */
export function lockAliveShell(lockDir: string): string[] {
  return [
    `alive=0; reboot=0; read -r boot < /proc/sys/kernel/random/boot_id; lockboot=""; read -r lockboot < ${lockDir}/boot 2>/dev/null`,
    `if [ -n "$lockboot" ] && [ "$lockboot" != "$boot" ]; then reboot=1; else`,
    `  for pid in $(cat ${lockDir}/pids 2>/dev/null); do [ -e "/proc/$pid" ] && alive=1; done`,
    `  [ -n "$(find ${lockDir}/heartbeat -newermt "-60 seconds" 2>/dev/null)" ] && alive=1`,
    'fi',
  ];
}

/**
 * One command that gathers every fact a plan needs, in one round trip. Read-only. Its output is
 * line-oriented and tab-separated, parsed by parseFacts. Paths come from the previous release too,
 * so files it managed that are no longer desired can be found and removed.
 *
 * The facts program (facts-program.ts) sent on standard input, with this state's paths, units and
 * ports as its arguments: the same text the read-only user's installed program runs.
 *
 * Processes are what it costs on a host (each fork and exec some milliseconds): files are read
 * with bash's own `read`, and the only programs it starts are one sha256sum, one stat and one
 * systemctl for everything. The runtime's versions come from the packages' own package.json
 * rather than from running them.
 */
export function factsProbe(state: DesiredState, opts: { audit?: boolean } = {}): { command: readonly string[]; script: string } {
  return {
    command: ['bash', '-s', '--', ...factsArgs(state, { sudoCheck: true, audit: opts.audit === true })],
    script: factsProgramText({ restricted: false }, lockAliveShell('"$dir/lock"'), factsAudit(state)),
  };
}

/**
 * The same facts through the read-only user's login: the installed program by name, its arguments
 * as plain words, nothing on standard input (sshd's ForceCommand runs the program whatever is asked).
 */
export function readOnlyFactsCommand(state: DesiredState, opts: { audit?: boolean } = {}): readonly string[] {
  const args = factsArgs(state, { sudoCheck: false, audit: opts.audit === true });
  const unsafe = unsafeFactsArgs(args);
  if (unsafe.length) throw new FactsError(`the read-only facts login cannot carry ${unsafe.join(', ')}: paths and units it reads are plain words (letters, digits and ._/@:+=,-)`);
  return [FACTS_PROGRAM_NAME, ...args];
}

export class FactsError extends Error {}

export function parseFacts(output: string): HostFacts {
  const facts: HostFacts = { files: {}, units: {}, runtime: { node: null, openclaw: null }, release: null, releases: [], lock: null, digestKey: null };
  const lines = output.split('\n');
  if (!lines.includes('END')) throw new FactsError('the facts probe did not finish (no END line)');
  for (const line of lines) {
    const [tag, ...f] = line.split('\t');
    switch (tag) {
      case 'F':
        facts.files[f[0]!] = f[1] === '-' ? null : { sha256: f[1]!, mode: f[2]!, owner: f[3]! };
        break;
      case 'M':
        (facts.folders ??= {})[f[0]!] = f[1] === '-' || !f[1] ? null : { mode: f[1], owner: f[2] ?? '' };
        break;
      case 'Y': {
        const found = facts.audit && 'findings' in facts.audit ? facts.audit : (facts.audit = { findings: [] });
        if (f[0] && f[1]) found.findings.push({ severity: f[0], checkId: f[1], title: f[2] || f[1] });
        break;
      }
      case 'Y-':
        if (!facts.audit) facts.audit = { findings: [] };
        break;
      case 'Y!':
        facts.audit = { error: f[0] || 'the deep audit did not run' };
        break;
      case 'U':
        facts.units[f[0]!] = {
          active: f[1] || 'unknown',
          enabled: f[2] || 'not-found',
          ...(f[3] ? { fragment: f[3] } : {}),
          ...(f[4]?.trim() ? { dropIns: f[4].trim().split(/\s+/) } : {}),
        };
        break;
      case 'G':
        (facts.packages ??= {})[f[0]!] = f[1] === '-' || !f[1] ? null : f[1];
        break;
      case 'N':
        facts.runtime.node = f[0]?.replace(/^v/, '') || null;
        break;
      case 'O':
        facts.runtime.openclaw = f[0] || null;
        break;
      case 'R':
        facts.release = JSON.parse(f[0]!) as ReleaseRecord;
        break;
      case 'L':
        facts.releases.push(f[0]!);
        break;
      case 'D':
        facts.digestKey = f[0] || null;
        break;
      case 'A':
        if (f[0]) facts.machine = f[0];
        break;
      case 'S':
        facts.sudo = { ok: f[0] === '1', user: f[1] ?? '' };
        break;
      case 'P':
        facts.listeners ??= {};
        if (f[0] && f[1]) (facts.listeners[f[0]] ??= []).push(kernelAddress(f[1]));
        break;
      case 'P-':
        facts.listeners ??= {};
        break;
      case 'K': {
        const holder = JSON.parse(f[0]!) as Omit<LockFact, 'alive'>;
        facts.lock = { ...holder, alive: f[1] === '1', ...(f[2] === '1' ? { rebooted: true } : {}) };
        break;
      }
    }
  }
  facts.releases.sort();
  for (const a of Object.values(facts.listeners ?? {})) a.sort();
  return facts;
}

/**
 * An address as /proc/net/tcp{,6} writes it (hex, each 32-bit word in the host's byte order, x86
 * and arm64 alike little-endian) as people write it: 0100007F → 127.0.0.1, all zeros → 0.0.0.0 or ::.
 */
export function kernelAddress(hex: string): string {
  const word = (h: string) => [h.slice(6, 8), h.slice(4, 6), h.slice(2, 4), h.slice(0, 2)].map((b) => parseInt(b, 16));
  if (hex.length === 8) return word(hex).join('.');
  if (hex.length !== 32) return hex;
  const bytes = [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // The longest run of zero groups as ::.
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Whether an address is the host's own loopback. */
export const isLoopback = (a: string) => /^127\./.test(a) || a === '::1' || /^::ffff:127\./.test(a);
/** Whether an address is every address of the host (0.0.0.0 or ::). */
export const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';
