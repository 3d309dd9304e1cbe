import type { DesiredState } from '../render/desired.js';
import type { ConfigSummary } from './summary.js';

export interface FileFact {
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
}

/** What clawops records on the host for each release it switched to. */
export interface ReleaseRecord {
  id: string;
  revision: string;
  appliedAt: string;
  /** Keyed digest of the plan that produced it. */
  planDigest: string;
  /** Digest of every managed file as written; sensitive files keyed (HMAC), never bare. */
  files: Record<string, { digest: string; sensitive: boolean; name: string; mode: number; owner?: string }>;
  units: string[];
  summary: ConfigSummary;
}

export interface LockFact {
  holder: string;
  since: string;
  revision: string;
  /** Whether any process recorded in the lock is still running. */
  alive: boolean;
}

export interface HostFacts {
  files: Record<string, FileFact | null>;
  units: Record<string, UnitFact>;
  runtime: { node: string | null; openclaw: string | null };
  release: ReleaseRecord | null;
  releases: string[];
  lock: LockFact | null;
  /** The host's key for digests of sensitive files (from .clawops/digest.key); never printed. */
  digestKey: string | null;
}

/** Every path a probe looks at: desired files, and the files of the release on the host. */
export function probedPaths(state: DesiredState, extra: readonly string[] = []): string[] {
  return [...new Set([...state.files.map((f) => f.path), ...extra])].sort();
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * One command that gathers every fact a plan needs, in one round trip. Read-only. Its output is
 * line-oriented (tab-separated; records from clawops's own files base64-encoded), parsed by
 * parseFacts. Paths come from the previous release too, so files it managed that are no longer
 * desired can be found and removed.
 */
export function factsProbe(state: DesiredState): { command: readonly string[]; script: string } {
  const dir = state.host.clawopsDir;
  const lines = [
    'set -u',
    'export LC_ALL=C',
    `dir=${q(dir)}`,
    // Paths of the release on the host, so a file it managed that is no longer desired is seen.
    'prev=""',
    'if [ -f "$dir/current/release.json" ]; then',
    '  printf "R\\t%s\\n" "$(base64 -w0 < "$dir/current/release.json")"',
    '  prev=$(cat "$dir/current/paths" 2>/dev/null)',
    'fi',
    'probe() {',
    '  if [ -e "$1" ]; then',
    '    s=$(sha256sum "$1" 2>/dev/null | cut -d" " -f1); m=$(stat -c %a "$1"); o=$(stat -c %U "$1")',
    '    printf "F\\t%s\\t%s\\t%s\\t%s\\n" "$1" "${s:-unreadable}" "$m" "$o"',
    '  else printf "F\\t%s\\t-\\n" "$1"; fi',
    '}',
    `for p in ${state.files.map((f) => q(f.path)).join(' ')} $prev; do probe "$p"; done`,
  ];
  if (state.services === 'systemd') {
    lines.push(
      `for u in ${state.units.map((u) => q(u.name)).join(' ')}; do`,
      '  printf "U\\t%s\\t%s\\t%s\\n" "$u" "$(systemctl is-active "$u" 2>/dev/null)" "$(systemctl is-enabled "$u" 2>/dev/null)"',
      'done',
    );
  }
  const rt = state.host.runtime;
  if (rt) {
    lines.push(
      `if [ -x ${q(rt.node.bin)} ]; then printf "N\\t%s\\n" "$(${q(rt.node.bin)} --version 2>/dev/null)"; fi`,
      `pj=${q(`${rt.openclaw.dir}/node_modules/openclaw/package.json`)}`,
      'if [ -f "$pj" ]; then printf "O\\t%s\\n" "$(sed -n \'s/^ *"version": "\\([^"]*\\)".*/\\1/p\' "$pj" | head -n1)"; fi',
    );
  }
  lines.push(
    'if [ -d "$dir/releases" ]; then for r in $(ls -1 "$dir/releases"); do printf "L\\t%s\\n" "$r"; done; fi',
    'if [ -f "$dir/lock/holder.json" ]; then',
    // Alive: a process it recorded still runs (an activation), or its holder beat within 60 s.
    '  alive=0; for pid in $(cat "$dir/lock/pids" 2>/dev/null); do kill -0 "$pid" 2>/dev/null && alive=1; done',
    '  [ -n "$(find "$dir/lock/heartbeat" -newermt "-60 seconds" 2>/dev/null)" ] && alive=1',
    '  printf "K\\t%s\\t%s\\n" "$(base64 -w0 < "$dir/lock/holder.json")" "$alive"',
    'fi',
    'if [ -f "$dir/digest.key" ]; then printf "D\\t%s\\n" "$(cat "$dir/digest.key")"; fi',
    'echo "END"',
  );
  return { command: ['bash', '-s'], script: `${lines.join('\n')}\n` };
}

export class FactsError extends Error {}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

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
      case 'U':
        facts.units[f[0]!] = { active: f[1] || 'unknown', enabled: f[2] || 'not-found' };
        break;
      case 'N':
        facts.runtime.node = f[0]?.replace(/^v/, '') || null;
        break;
      case 'O':
        facts.runtime.openclaw = f[0] || null;
        break;
      case 'R':
        facts.release = JSON.parse(decode(f[0]!)) as ReleaseRecord;
        break;
      case 'L':
        facts.releases.push(f[0]!);
        break;
      case 'D':
        facts.digestKey = f[0] || null;
        break;
      case 'K': {
        const holder = JSON.parse(decode(f[0]!)) as Omit<LockFact, 'alive'>;
        facts.lock = { ...holder, alive: f[1] === '1' };
        break;
      }
    }
  }
  facts.releases.sort();
  return facts;
}
