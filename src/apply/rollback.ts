import type { DesiredFile, DesiredState } from '../render/desired.js';
import type { ReleaseRecord } from '../plan/facts.js';
import type { Transport } from '../transport/transport.js';
import { apply, type ApplyInput, type ApplyResult } from './apply.js';
import { ApplyError } from './errors.js';
import { gatherFacts, must } from './host.js';
import { releasePaths } from './layout.js';

/**
 * Back to a kept release: its own files, read from the host, applied as a new release with the
 * same lock, activation and health gates as any apply.
 */
export async function rollback(
  input: Omit<ApplyInput, 'summary' | 'secrets' | 'revision'> & { to?: string },
): Promise<ApplyResult & { restored: string }> {
  const { transport: t, desired } = input;
  const facts = await gatherFacts(t, desired);
  const current = facts.release?.id;
  // Only a release that went live is one to go back to: one whose gates failed (rolled back) or
  // whose activation never ran is kept on the host too, and sorts after the one it failed to replace.
  const live = new Set(await outcomes(t, desired, facts.releases, 'applied'));
  const kept = facts.releases.filter((r) => r !== current && live.has(r));
  const target = input.to ?? kept.filter((r) => !current || r < current).at(-1);
  if (!target) throw new ApplyError(t.target, 'rollback', 'no earlier release is kept on the host');
  if (!facts.releases.includes(target)) {
    throw new ApplyError(t.target, 'rollback', `release ${target} is not kept on the host (kept: ${facts.releases.join(', ') || 'none'})`);
  }
  const old = await readRelease(t, desired, target);
  // Gated where that release serves: its own health URLs, when its record has them.
  const units = desired.units.map((u) => ({ ...u, health: old.record.health?.[u.name] ?? u.health }));
  const restored: DesiredState = { ...desired, files: old.files, units, host: { ...desired.host, ...runtimeOf(desired, old.record) } };
  const restoreState = await stateToRestore(t, desired, facts.releases, target, current, old.record, facts.release);
  const result = await apply({
    ...input,
    ...(restoreState ? { restoreState } : {}),
    desired: restored,
    summary: old.record.summary,
    secrets: () => undefined,
    revision: old.record.revision,
  });
  return { ...result, restored: target };
}

/** The runtime a release ran on, in this host's layout: versioned folders side by side. */
function runtimeOf(desired: DesiredState, record: ReleaseRecord): Pick<DesiredState['host'], 'runtime'> {
  const rt = desired.host.runtime;
  if (!rt || !record.runtime) return rt ? { runtime: rt } : {};
  const swap = (path: string, from: string, to: string) => path.split(`/${from}`).join(`/${to}`);
  const node = record.runtime.node;
  const oc = record.runtime.openclaw;
  return {
    runtime: {
      node: { version: node, dir: swap(rt.node.dir, rt.node.version, node), bin: swap(rt.node.bin, rt.node.version, node) },
      ...(rt.openclaw && oc ? { openclaw: { version: oc, dir: swap(rt.openclaw.dir, rt.openclaw.version, oc), entry: swap(rt.openclaw.entry, rt.openclaw.version, oc) } } : {}),
    },
  };
}

/**
 * Going back across a change of OpenClaw's version: the copy of its state that a switch after the
 * target took before the new version ran, the latest made from the target's version. Releases
 * that do not record their runtime are not compared.
 */
async function stateToRestore(
  t: Transport,
  desired: DesiredState,
  releases: readonly string[],
  target: string,
  current: string | undefined,
  targetRecord: ReleaseRecord,
  live: ReleaseRecord | null,
): Promise<{ release: string; from: string; to: string } | undefined> {
  const want = targetRecord.runtime?.openclaw;
  if (!want || !live?.runtime?.openclaw || live.runtime.openclaw === want || !current) return undefined;
  const between = releases.filter((r) => r > target && r <= current);
  if (!between.length) return undefined;
  const p = releasePaths(desired.host, 'x');
  const script = between.map((r) => `printf '%s\\t' '${r}'; cat '${p.releases}/${r}/openclaw-state/.clawops-state.json' 2>/dev/null || echo; echo`).join('\n');
  const out = await must(t, 'rollback', ['bash', '-c', script]);
  // The latest copy made from the target's version: the state as that version last left it.
  for (const line of out.split('\n').reverse()) {
    const [id, json] = line.split('\t');
    if (!id || !json?.trim()) continue;
    const meta = JSON.parse(json) as { from: string; to: string };
    if (meta.from === want) return { release: id, ...meta };
  }
  return undefined;
}

/** The kept releases whose activation ended with this outcome (releases/<id>/result). */
async function outcomes(t: Transport, desired: DesiredState, ids: readonly string[], outcome: string): Promise<string[]> {
  if (!ids.length) return [];
  const p = releasePaths(desired.host, 'x');
  const script = `for r in ${ids.map((r) => `'${r}'`).join(' ')}; do printf '%s\\t%s\\n' "$r" "$(cat "${p.releases}/$r/result" 2>/dev/null)"; done`;
  const out = await must(t, 'rollback', ['bash', '-c', script]);
  return out.split('\n').map((l) => l.split('\t')).filter(([, o]) => o === outcome).map(([r]) => r!);
}

/**
 * A kept release's files. Files holding secrets are not read: they are copied on the host from
 * that release (`fromHost`), so a rollback moves no secret value through the machine running
 * clawops, whatever the secrets' source (values the host read itself from Parameter Store included).
 */
async function readRelease(t: Transport, desired: DesiredState, id: string): Promise<{ record: ReleaseRecord; files: DesiredFile[] }> {
  const p = releasePaths(desired.host, id);
  const record = JSON.parse(await must(t, 'rollback', ['cat', p.record])) as ReleaseRecord;
  const entries = Object.entries(record.files);
  const script = entries
    .map(([, f]) => (f.sensitive ? `if [ -f '${p.files}/${f.name}' ]; then printf '%s\\t\\n' '${f.name}'; fi` : `printf '%s\\t' '${f.name}'; base64 -w0 '${p.files}/${f.name}'; echo`))
    .join('\n');
  const out = await must(t, 'rollback', ['bash', '-s'], script);
  const contents = new Map(out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  const roleOf = new Map(desired.files.map((f) => [f.path, f.role]));
  const files = entries.map(([path, f]): DesiredFile => {
    const b64 = contents.get(f.name);
    if (b64 === undefined) throw new ApplyError(t.target, 'rollback', `release ${id} lacks ${f.name}`);
    return {
      path,
      name: f.name,
      role: roleOf.get(path) ?? (f.name.startsWith('systemd/') ? 'unit' : 'proxy-config'),
      mode: f.mode,
      ...(f.owner ? { owner: f.owner } : {}),
      content: f.sensitive ? '' : Buffer.from(b64, 'base64').toString('utf8'),
      sensitive: f.sensitive,
      ...(f.sensitive ? { fromHost: { path: `${p.files}/${f.name}`, digest: f.digest } } : {}),
    };
  });
  return { record, files };
}
