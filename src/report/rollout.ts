import type { HostOutcome, RolloutResult } from '../apply/rollout.js';

/** One host's outcome in words: what happened and what it runs now. */
export function outcomeLine(o: HostOutcome): string {
  switch (o.status) {
    case 'applied':
      return `applied release ${o.release}`;
    case 'no-changes':
      return `no changes: ${o.on ?? 'already up to date'}`;
    case 'rolled-back':
      return `failed at ${o.step ?? 'activate'}: ${o.cause ?? 'a health gate failed'}; rolled back, on ${o.on}`;
    case 'failed':
      return `failed at ${o.step ?? 'apply'}: ${o.cause ?? 'see the log'}; on ${o.on ?? 'unknown'}`;
    case 'not-started':
      return `not started: on ${o.on ?? 'what it ran before'}`;
  }
}

const MARK: Record<HostOutcome['status'], string> = { applied: '✔', 'no-changes': '✔', 'rolled-back': '✘', failed: '✘', 'not-started': '-' };

function policyWords(r: RolloutResult): string {
  const size = typeof r.policy.batch === 'string' ? r.policy.batch : `${r.policy.batch}`;
  return `batches of ${size} (${r.batches.map((b) => b.length).join(' + ')} hosts), stopping when more than ${r.policy.maxFailPercentage}% of a batch fails`;
}

function stoppedWords(r: RolloutResult): string {
  const waiting = r.hosts.filter((h) => h.status === 'not-started').length;
  const hosts = (n: number) => `${n} host${n === 1 ? '' : 's'}`;
  if (!r.stopped) return `Rollout finished: ${r.hosts.filter((h) => h.status === 'applied' || h.status === 'no-changes').length} of ${hosts(r.hosts.length)} on the new revision.`;
  const why =
    r.stopped.reason === 'interrupted'
      ? 'interrupted'
      : `${r.stopped.failed} of ${hosts(r.stopped.size)} in batch ${r.stopped.batch + 1} failed (more than ${r.policy.maxFailPercentage}%)`;
  return `Rollout stopped: ${why}; ${hosts(waiting)} not started, left on what they ran.`;
}

/** The rollout for a terminal: the policy, each host's outcome, then how it ended. */
export function renderRolloutText(env: string, revision: string, r: RolloutResult, where: (host: string) => string): string {
  const width = Math.max(...r.hosts.map((h) => h.host.length));
  return [
    `Rollout of ${revision} to ${env}: ${policyWords(r)}.`,
    ...r.hosts.map((h) => `  ${MARK[h.status]} ${h.host.padEnd(width)}  ${outcomeLine(h)}  (${where(h.host)})`),
    stoppedWords(r),
    '',
  ].join('\n');
}

const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The rollout as markdown, for the apply report on the pull request and the job summary. */
export function renderRolloutMarkdown(env: string, revision: string, r: RolloutResult): string {
  const failed = r.hosts.some((h) => h.status === 'failed' || h.status === 'rolled-back');
  return [
    `## clawops apply · ${code(env)}: ${failed ? '❌ rollout stopped' : '✅ rolled out'}`,
    '',
    `Revision ${code(revision)}, ${policyWords(r)}.`,
    '',
    '| Host | Outcome | Runs now |',
    '| --- | --- | --- |',
    ...r.hosts.map((h) => {
      const what =
        h.status === 'applied' ? `✅ applied ${code(h.release ?? '?')}`
          : h.status === 'no-changes' ? '✅ no changes'
            : h.status === 'not-started' ? '⏸ not started'
              : `❌ ${h.status === 'rolled-back' ? 'rolled back' : 'failed'} at ${code(h.step ?? 'apply')}: ${cell(h.cause ?? '')}`;
      const now = h.status === 'applied' ? `release ${code(h.release ?? '?')}` : cell(h.on ?? 'unknown');
      return `| ${code(h.host)} | ${what} | ${now} |`;
    }),
    '',
    stoppedWords(r),
    '',
  ].join('\n');
}
