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

/** Release ids sort by time: 20261124T013000Z-<revision>. */
export function releaseId(now: Date, revision: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${revision.replace(/[^A-Za-z0-9]/g, '').slice(0, 12) || 'local'}`;
}
