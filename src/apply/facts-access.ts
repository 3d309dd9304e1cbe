import type { DesiredState } from '../render/desired.js';
import { factsAllowList, factsAudit, factsProgramText, factsSshd, factsSudoers } from '../plan/facts-program.js';
import { lockAliveShell } from '../plan/facts.js';
import { INSTALLED_CHAIN_PROBE_PROGRAM, type InstalledChainPlan } from '../smoke/chain-program.js';
import type { Transport } from '../transport/transport.js';
import { asRoot, must } from './host.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * The root script that sets up the read-only facts user (target.factsUser): the user, the fixed
 * facts program and the list of what it may read, the chain probe, its plan and its record folder
 * (with `chainPlan`), its one sudo rule (checked by visudo -cf before it is put in place) and its
 * sshd drop-in (checked by sshd -t; sshd reloaded only when it changed).
 * Each file is written only when it differs, so a second apply changes nothing. It prints one line
 * per change. Null when the environment declares no facts user.
 */
export function factsAccessScript(desired: DesiredState, chainPlan?: InstalledChainPlan): string | null {
  const access = desired.host.facts;
  if (!access) return null;
  // The chain probe (`clawops-facts --chain`): as the gateway's user, with the release's Node.
  const chain = chainPlan && desired.host.user && desired.host.runtime ? { user: desired.host.user, node: desired.host.runtime.node.bin } : undefined;
  const program = factsProgramText({ restricted: true, access, ...(chain ? { chain } : {}) }, lockAliveShell('"$dir/lock"'), factsAudit(desired));
  const allow = factsAllowList(desired, desired.host.managedFolders ?? []);
  return [
    'set -eu',
    `user=${q(access.user)}`,
    // A login whose ForceCommand runs through its shell: /bin/sh, and no password ('*' is not a
    // locked account to sshd, so its key logs in).
    'if ! id -u "$user" > /dev/null 2>&1; then',
    '  useradd --system --create-home --shell /bin/sh "$user"',
    '  usermod -p "*" "$user"',
    '  echo "created the read-only user $user"',
    'fi',
    `install -d -o root -g root -m 0755 ${q(access.program.replace(/\/[^/]+$/, ''))}`,
    // new PATH MODE BASE64: writes PATH.clawops-new, root's; prints nothing and removes it when PATH is already so.
    'fresh() {',
    '  local tmp="$1.clawops-new"',
    '  printf "%s" "$3" | base64 -d > "$tmp"; chown root:root "$tmp"; chmod "$2" "$tmp"',
    '  if [ -f "$1" ] && cmp -s "$tmp" "$1" && [ "$(stat -c %a:%U:%G "$1")" = "$(stat -c %a:%U:%G "$tmp")" ]; then rm -f "$tmp"; return 1; fi',
    '}',
    `if fresh ${q(access.program)} 755 ${q(b64(program))}; then mv -f ${q(`${access.program}.clawops-new`)} ${q(access.program)}; echo "installed the facts program ${access.program}"; fi`,
    `if fresh ${q(access.allow)} 644 ${q(b64(allow))}; then mv -f ${q(`${access.allow}.clawops-new`)} ${q(access.allow)}; echo "wrote what the facts program may read: ${access.allow}"; fi`,
    ...(chain && chainPlan
      ? [
          `if fresh ${q(access.chainProgram)} 644 ${q(b64(INSTALLED_CHAIN_PROBE_PROGRAM))}; then mv -f ${q(`${access.chainProgram}.clawops-new`)} ${q(access.chainProgram)}; echo "installed the chain probe ${access.chainProgram}"; fi`,
          `if fresh ${q(access.chainPlan)} 644 ${q(b64(`${JSON.stringify(chainPlan, null, 2)}\n`))}; then mv -f ${q(`${access.chainPlan}.clawops-new`)} ${q(access.chainPlan)}; echo "wrote the chain probe's plan ${access.chainPlan}"; fi`,
          // Its record of its own runs: the one place the probe writes, the gateway's user's.
          `if [ ! -d ${q(access.chainRuns)} ] || [ "$(stat -c %U:%a ${q(access.chainRuns)})" != ${q(`${chain.user}:700`)} ]; then`,
          `  install -d -o ${q(chain.user)} -g "$(id -gn ${q(chain.user)})" -m 0700 ${q(access.chainRuns)}`,
          `  echo "made the chain probe's record folder ${access.chainRuns}"`,
          'fi',
        ]
      : []),
    `if fresh ${q(access.sudoers)} 440 ${q(b64(factsSudoers(access)))}; then`,
    `  if ! visudo -cf ${q(`${access.sudoers}.clawops-new`)} > /dev/null; then rm -f ${q(`${access.sudoers}.clawops-new`)}; echo "visudo refused the sudo rule for $user" >&2; exit 1; fi`,
    `  mv -f ${q(`${access.sudoers}.clawops-new`)} ${q(access.sudoers)}; echo "wrote the sudo rule ${access.sudoers}"`,
    'fi',
    `conf=${q(access.sshd)}`,
    `if fresh "$conf" 644 ${q(b64(factsSshd(access)))}; then`,
    '  if [ -f "$conf" ]; then cp -p "$conf" "$conf.clawops-old"; fi',
    '  mv -f "$conf.clawops-new" "$conf"',
    // A drop-in sshd refuses is taken back before anything reloads: the host keeps its logins.
    '  if ! out=$(sshd -t 2>&1); then',
    '    if [ -f "$conf.clawops-old" ]; then mv -f "$conf.clawops-old" "$conf"; else rm -f "$conf"; fi',
    '    echo "sshd -t refused the drop-in for $user: $out" >&2; exit 1',
    '  fi',
    '  rm -f "$conf.clawops-old"',
    '  systemctl reload ssh.service 2> /dev/null || systemctl reload sshd.service',
    '  echo "wrote the sshd drop-in $conf and reloaded sshd"',
    'fi',
    '',
  ].join('\n');
}

/** Sets up the read-only facts user on the host; the lines it prints are what it changed. */
export async function ensureFactsAccess(t: Transport, desired: DesiredState, progress: (line: string) => void, chainPlan?: InstalledChainPlan): Promise<void> {
  const script = factsAccessScript(desired, chainPlan);
  if (!script) return;
  const out = await must(t, 'facts user', asRoot(desired, ['bash', '-s']), script);
  for (const line of out.split('\n').filter(Boolean)) progress(line);
}
