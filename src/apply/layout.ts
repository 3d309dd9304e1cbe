import type { HostLayout } from '../render/desired.js';

/** Where one release lives on the host, and clawops's own records beside it. */
export function releasePaths(host: HostLayout, releaseId: string) {
  const root = host.clawopsDir;
  const rel = `${root}/releases/${releaseId}`;
  return {
    root,
    releases: `${root}/releases`,
    current: `${root}/current`,
    lock: `${root}/lock`,
    /** Uploads in progress (runtime archives); emptied by whoever takes the lock next. */
    incoming: `${root}/incoming`,
    audit: `${root}/audit.log`,
    digestKey: `${root}/digest.key`,
    release: rel,
    files: `${rel}/files`,
    record: `${rel}/release.json`,
    paths: `${rel}/paths`,
    script: `${rel}/activate.sh`,
    log: `${rel}/activate.log`,
    progress: `${rel}/progress`,
    result: `${rel}/result`,
  };
}

const stampOf = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/;

/**
 * Release ids sort in the order the host took them: 20261124T013000Z-<revision>. The stamp is the
 * runner's clock, unless that is not later than the newest release the host keeps (a runner whose
 * clock is slow, or two applies within one second): then it is one second after that release, so
 * every id is unique and sorts after all the releases before it, whatever the runner's clock says.
 * The time each release really went live is in its record and the audit log.
 */
export function releaseId(now: Date, revision: string, kept: readonly string[] = []): string {
  let at = Math.floor(now.getTime() / 1000) * 1000;
  for (const id of kept) {
    const m = STAMP.exec(id);
    if (!m) continue;
    const [, y, mo, d, h, mi, s] = m;
    const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
    if (t >= at) at = t + 1000;
  }
  return `${stampOf(new Date(at))}-${revision.replace(/[^A-Za-z0-9]/g, '').slice(0, 12) || 'local'}`;
}
