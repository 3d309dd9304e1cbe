import type { HostLayout } from '../render/desired.js';
import type { Transport } from '../transport/transport.js';
import { lockAliveShell } from '../plan/facts.js';
import { LockedError } from './errors.js';
import { must } from './host.js';

export interface LockOptions {
  holder: string;
  revision: string;
  /** How long to wait for another apply to finish. */
  waitMs: number;
  /** Remove a lock whose holder is gone. */
  breakStale: boolean;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Told each time a live holder keeps the lock: who, since when, how long this apply has waited. */
  waiting?: (holder: string, since: string, waitedMs: number, first: boolean) => void;
  /** Told what taking the lock found and did (a lock left by a restart of the host, cleared). */
  notice?: (text: string) => void;
  /** Root's words on the host (the activation's records are root's); as-is by default. */
  asRoot?: (words: readonly string[]) => string[];
}

export interface HeldLock {
  /** Proves the holder is alive; a lock without a beat for 60 s counts as stale. */
  beat(): Promise<void>;
  release(): Promise<void>;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The host's apply lock: a folder holding who took it, when and for which revision, and a heartbeat.
 * It is made complete under another name and renamed into place (a rename onto a lock that exists
 * fails), and released by renaming it away, so whoever looks sees a whole lock or none. A second
 * apply waits up to a bound, then fails naming the holder; a stale lock is only broken when asked to.
 */
export async function acquireLock(t: Transport, host: HostLayout, opts: LockOptions): Promise<HeldLock> {
  const dir = host.clawopsDir;
  const lock = `${dir}/lock`;
  const holderFile = q(`${lock}/holder.json`);
  const script = [
    `mkdir -p ${q(dir)} && chmod 700 ${q(dir)}`,
    `[ -f ${q(`${dir}/digest.key`)} ] || (umask 077; head -c 32 /dev/urandom | base64 > ${q(`${dir}/digest.key`)})`,
    `new=$(mktemp -d ${q(`${lock}.new.XXXXXX`)}) && touch "$new/heartbeat" && cat > "$new/holder.json" || exit 1`,
    // Which boot of the host took it: a lock from an earlier boot has no holder left.
    'cat /proc/sys/kernel/random/boot_id > "$new/boot" 2>/dev/null || rm -f "$new/boot"',
    // Taken: what a run killed under the previous lock left half uploaded goes.
    `if mv -T "$new" ${q(lock)} 2>/dev/null; then rm -rf ${q(`${dir}/incoming`)}; echo TAKEN; exit 0; fi`,
    `rm -rf "$new"`,
    `seen=$(base64 -w0 < ${holderFile} 2>/dev/null)`,
    ...lockAliveShell(q(lock)),
    // Released, or released and taken again, while we looked: look again.
    `[ -n "$seen" ] && [ "$seen" = "$(base64 -w0 < ${holderFile} 2>/dev/null)" ] || { echo AGAIN; exit 0; }`,
    `printf 'BUSY\\t%s\\t%s\\t%s\\n' "$alive" "$seen" "$reboot"`,
  ].join('\n');
  const start = opts.now().getTime();
  const deadline = start + opts.waitMs;
  let waits = 0;
  for (;;) {
    const holder = JSON.stringify({ holder: opts.holder, since: opts.now().toISOString(), revision: opts.revision });
    const out = await must(t, 'lock', ['bash', '-c', script], holder);
    if (out.startsWith('TAKEN')) break;
    if (out.startsWith('AGAIN')) {
      await opts.sleep(50);
      continue;
    }
    const [, alive, b64, reboot] = out.trim().split('\t');
    const info = holderInfo(b64);
    if (reboot === '1') {
      // The host restarted during that apply: nothing of it runs any more, and what it left is
      // recorded before the lock goes, so the audit log and the releases say what happened.
      const cut = await recordCutShort(t, dir, info, opts.asRoot ?? ((w) => [...w]), opts.now());
      await removeLock(t, 'lock', lock);
      opts.notice?.(
        `the host restarted during the apply of ${info.holder ?? 'unknown'} (since ${info.since ?? 'unknown'}), which never finished: its lock is cleared${cut.length ? `, and release ${cut.join(', ')}, whose switch was cut, is recorded as interrupted` : ''}`,
      );
      continue;
    }
    if (alive !== '1') {
      if (!opts.breakStale) throw new LockedError(t.target, info.holder ?? 'unknown', info.since ?? 'unknown', false);
      await removeLock(t, 'lock', lock);
      continue;
    }
    if (opts.now().getTime() >= deadline) throw new LockedError(t.target, info.holder ?? 'unknown', info.since ?? 'unknown', true);
    opts.waiting?.(info.holder ?? 'unknown', info.since ?? 'unknown', opts.now().getTime() - start, waits++ === 0);
    await opts.sleep(1000);
  }
  return {
    beat: async () => {
      await t.run(['touch', `${lock}/heartbeat`]);
    },
    release: async () => {
      await removeLock(t, 'unlock', lock);
    },
  };
}

/**
 * Releases whose switch began and never ended (a progress file, no result) get the result
 * `interrupted` and an audit line, so the host's history says what a power cut cut short. The
 * files are the host's, whatever mix the cut left: the next plan compares them as they are.
 */
async function recordCutShort(t: Transport, dir: string, info: { holder?: string; revision?: string }, asRoot: (w: readonly string[]) => string[], now: Date): Promise<string[]> {
  const audit = (id: string) => JSON.stringify({ time: now.toISOString().replace(/\.\d+Z$/, 'Z'), holder: info.holder ?? 'unknown', revision: info.revision ?? 'unknown', release: id, outcome: 'interrupted' });
  const script = [
    `cd ${q(`${dir}/releases`)} 2>/dev/null || exit 0`,
    'for r in */; do r=${r%/}; if [ -e "$r/progress" ] && [ ! -e "$r/result" ]; then echo "$r"; fi; done',
  ].join('\n');
  const ids = (await must(t, 'lock', ['bash', '-c', script])).split('\n').filter(Boolean);
  if (!ids.length) return [];
  // The switch's own leftovers go too: a file it was writing, and the old copies it kept for an
  // undo that will never run (what is live is what the cut left).
  const record = ids
    .map((id) =>
      [
        `echo interrupted > ${q(`${dir}/releases/${id}/result`)} && printf '%s\\n' ${q(audit(id))} >> ${q(`${dir}/audit.log`)} && printf '%s\\n' 'outcome interrupted (the host restarted during the switch)' >> ${q(`${dir}/releases/${id}/progress`)}`,
        `while IFS= read -r f; do [ -n "$f" ] && rm -f "$f.clawops-new" "$f.clawops-old"; done < ${q(`${dir}/releases/${id}/paths`)} 2>/dev/null; true`,
      ].join('\n'),
    )
    .join('\n');
  await must(t, 'lock', asRoot(['bash', '-c', record]));
  return ids;
}

function holderInfo(b64: string | undefined): { holder?: string; since?: string; revision?: string } {
  try {
    return JSON.parse(Buffer.from(b64 ?? '', 'base64').toString('utf8') || '{}') as { holder?: string; since?: string; revision?: string };
  } catch {
    return {};
  }
}

/** Renamed away first, so that no other apply ever sees a half-removed lock. */
async function removeLock(t: Transport, step: string, lock: string): Promise<void> {
  await must(t, step, ['bash', '-c', `[ -e ${q(lock)} ] || exit 0; gone=$(mktemp -u ${q(`${lock}.gone.XXXXXX`)}) && mv ${q(lock)} "$gone" && rm -rf "$gone"`]);
}
