/**
 * OpenClaw installed by the host itself from the npm registry (`runtime.fetch: registry`), from the
 * lock the repository pins for the version (runtime/openclaw-VERSION/package-lock.json, written by
 * `npm run lock-openclaw`): every package of the tree at the folder npm would put it in, fetched
 * from the registry's standard tarball address and kept only when its sha512 is the integrity the
 * lock pins. Platform-specific packages are taken for the host's platform only, as npm does; install
 * scripts are not run, as on the machine that packs the uploaded runtime.
 */

import { shellQuote } from '../transport/transport.js';

/** One package of the tree: where it goes (relative to the install folder), and what it must be. */
export interface TreePackage {
  path: string;
  name: string;
  version: string;
  url: string;
  /** sha512 as sha512sum prints it. */
  hex: string;
}

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  /** Bundled: it comes inside its parent's tarball. */
  inBundle?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

/** Whether a package's `os`/`cpu`/`libc` list takes this value ("!x" excludes x), as npm reads them. */
function allows(list: string[] | undefined, value: string): boolean {
  if (!list?.length) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((v) => !v.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

/** The package's name from its folder: node_modules/a/node_modules/@s/b is @s/b. */
function nameAt(path: string): string {
  const parts = path.split('node_modules/');
  return parts[parts.length - 1]!.replace(/\/$/, '');
}

/**
 * The packages to fetch for a Linux host of `cpu` (Node's name: x64, arm64) with glibc, from the lock's
 * text; an error names what is wrong with the lock. Each tarball's address is the registry's standard
 * one, under `registry`, whatever registry the lock was resolved against.
 */
export function openclawTree(lockText: string, registry: string, cpu: string): TreePackage[] {
  const lock = JSON.parse(lockText) as { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) throw new Error('not a package-lock.json of lockfileVersion 2 or later');
  if (!lock.packages['node_modules/openclaw']) throw new Error('it does not hold openclaw');
  const base = registry.replace(/\/+$/, '');
  const out: TreePackage[] = [];
  for (const [path, e] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || e.dev || e.link || e.inBundle) continue;
    if (!allows(e.os, 'linux') || !allows(e.cpu, cpu) || !allows(e.libc, 'glibc')) {
      if (e.optional) continue;
      throw new Error(`${path} is not for linux-${cpu} and is not optional`);
    }
    const name = e.name ?? nameAt(path);
    const m = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(e.integrity ?? '');
    if (!e.version || !m) throw new Error(`${path} has no version or no sha512 integrity`);
    const file = `${name.replace(/^@[^/]+\//, '')}-${e.version}.tgz`;
    out.push({ path, name, version: e.version, url: `${base}/${name}/-/${file}`, hex: Buffer.from(m[1]!, 'base64').toString('hex') });
  }
  return out;
}

/**
 * The host's half, a bash fragment that fills buildInto's folder "$t": reads `path url hex` lines on
 * standard input, fetches up to 8 at a time, checks each tarball's sha512 before it is unpacked, and
 * unpacks it into its folder. The first package that cannot be fetched or does not match stops it,
 * by name; buildInto's partial folder is then never renamed into place, and is removed.
 */
export function fetchTreeInto(what: string): string[] {
  // A failure leaves a mark that the packages still to come see, and they end at once: xargs runs
  // them all and waits for each, so nothing writes into the folder once the script has ended.
  const one = [
    'set -e',
    '[ ! -e "$T/.fetch/stop" ] || exit 1',
    'stop() { touch "$T/.fetch/stop" 2>/dev/null || true; exit 1; }',
    'p=$1; u=$2; h=$3; f=$(mktemp "$T/.fetch/XXXXXX") || stop',
    `curl -fsSL --retry 2 -m 600 -o "$f" "$u" || { echo "the host could not fetch $u for ${what}" >&2; stop; }`,
    `printf '%s  %s\\n' "$h" "$f" | sha512sum -c --status || { echo "$u does not match the sha512 integrity the lock pins for ${what}; refused, nothing installed" >&2; stop; }`,
    'mkdir -p "$T/$p" || stop',
    'tar -xzf "$f" -C "$T/$p" --strip-components=1 --no-same-owner --warning=no-unknown-keyword || stop',
    'rm -f "$f"',
  ].join('\n');
  return [
    'T=$t; export T; mkdir "$t/.fetch"',
    `xargs -P 8 -n 3 bash -c ${shellQuote([one])} _ || exit 1`,
    'rmdir "$t/.fetch"',
    // npm leaves every file readable and every folder searchable, whatever the tarball says.
    'chmod -R u+rwX,go+rX,go-w "$t/node_modules"',
  ];
}
