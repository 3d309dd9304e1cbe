import type { Transport } from '../transport/transport.js';
import { ApplyError } from './errors.js';
import { must } from './host.js';

/** Bytes a step is about to write under a folder (which may not exist yet). */
export interface SpaceNeed {
  dir: string;
  bytes: number;
  what: string;
}

/** Room kept free beyond what is written: logs, records, the filesystem's own needs. */
export const SPACE_MARGIN = 4 << 20;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const human = (bytes: number) =>
  bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;

/**
 * Refuses a step before it writes when a filesystem it writes to has less room than it needs, in
 * one round trip: the needs are summed per filesystem (the staged release and the runtime archive
 * may share one), and the message names the mount, what it holds free and what is needed. A full
 * disk found this way has changed nothing; found by a failed write it would leave a half-written
 * file and the SFTP server's word "Failure".
 */
export async function checkSpace(t: Transport, step: string, needs: readonly SpaceNeed[]): Promise<void> {
  if (!needs.length) return;
  // The nearest folder that exists stands for one not made yet: it is on the same filesystem.
  const script = needs.map((n) => `d=${q(n.dir)}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; df -P -B1 "$d" | tail -n 1`).join('\n');
  const lines = (await must(t, step, ['bash', '-c', script])).trim().split('\n');
  const mounts = new Map<string, { free: number; bytes: number; what: string[] }>();
  needs.forEach((n, i) => {
    const f = (lines[i] ?? '').trim().split(/\s+/);
    const free = Number(f[3]);
    const mount = f.slice(5).join(' ');
    if (!mount || !Number.isFinite(free)) throw new ApplyError(t.target, step, `cannot read the free space of ${n.dir}: ${lines[i] ?? 'no answer'}`);
    const m = mounts.get(mount) ?? { free, bytes: 0, what: [] };
    m.bytes += n.bytes;
    m.what.push(n.what);
    mounts.set(mount, m);
  });
  for (const [mount, m] of mounts) {
    if (m.free < m.bytes + SPACE_MARGIN) {
      throw new ApplyError(
        t.target,
        step,
        `not enough free space on ${mount}: ${human(m.free)} free, ${human(m.bytes + SPACE_MARGIN)} needed for ${m.what.join(' and ')} (with ${human(SPACE_MARGIN)} to spare); nothing was changed. Free space on the host and apply again`,
      );
    }
  }
}

/** The size a .tgz unpacks to: gzip's trailer holds it (modulo 4 GiB, far above any runtime). */
export function unpackedSize(tgz: Buffer): number {
  return tgz.length >= 4 ? tgz.readUInt32LE(tgz.length - 4) : 0;
}
