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
    // Every path once, and one sha256sum and one stat for all of them: a process per file and fact
    // made this probe take a second, most of a no-change plan.
    'declare -A seen=() sum=(); present=()',
    `for p in ${state.files.map((f) => q(f.path)).join(' ')} $prev; do`,
    '  [ -n "${seen[$p]:-}" ] && continue; seen[$p]=1',
    '  if [ -e "$p" ]; then present+=("$p"); else printf "F\\t%s\\t-\\n" "$p"; fi',
    'done',
    'if [ ${#present[@]} -gt 0 ]; then',
    '  while read -r s p; do sum[$p]=$s; done < <(sha256sum -- "${present[@]}" 2>/dev/null)',
    '  while IFS=$\'\\t\' read -r m o p; do printf "F\\t%s\\t%s\\t%s\\t%s\\n" "$p" "${sum[$p]:-unreadable}" "$m" "$o"; done < <(stat -c $\'%a\\t%U\\t%n\' -- "${present[@]}")',
    'fi',
  ];
  if (state.services === 'systemd') {
    // One systemctl for every unit: is-active and is-enabled report these same two properties.
    lines.push(
      'id=""; act=""; uf=""',
      'while IFS== read -r k v; do',
      '  case $k in',
      '    Id) id=$v ;; ActiveState) act=$v ;; UnitFileState) uf=$v ;;',
      '    "") [ -n "$id" ] && printf "U\\t%s\\t%s\\t%s\\n" "$id" "$act" "$uf"; id=""; act=""; uf="" ;;',
      '  esac',
      `done < <(systemctl show -p Id -p ActiveState -p UnitFileState -- ${state.units.map((u) => q(u.name)).join(' ')} 2>/dev/null; echo)`,
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
    '  alive=0; for pid in $(cat "$dir/lock/pids" 2>/dev/null); do [ -e "/proc/$pid" ] && alive=1; done',
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
