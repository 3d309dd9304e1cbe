/**
 * The chain report as people read it: a terminal table, the job summary, and the chain issue.
 * The issue's body holds states and since when, never latencies, so it changes only when the
 * chain's health does (each change posts a comment).
 */
import type { ChainHealth, ChainReport, ChainStep } from '../smoke/chain.js';

const mark = (s: ChainStep) => (s.state === 'ok' ? '✔' : '✘');

export function renderChainTable(report: ChainReport): string {
  const rows = report.steps.map((s) => [`${s.step}`, s.ref, s.via, `${mark(s)} ${s.state}`, s.ms !== undefined ? `${s.ms} ms` : '', s.detail]);
  const head = ['step', 'model', 'via', 'state', 'latency', 'detail'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const failing = report.steps.filter((s) => s.state !== 'ok').length;
  return [
    `Fallback chain on ${report.environment} at ${report.at}:`,
    line(head),
    ...rows.map(line),
    failing ? `${failing} of ${report.steps.length} steps failing.` : `All ${report.steps.length} steps answer.`,
    '',
  ].join('\n');
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** For the job summary: every step with its latency. */
export function renderChainMarkdown(report: ChainReport): string {
  const rows = report.steps.map((s) => `| ${s.step} | \`${s.ref}\` | ${s.via} | ${mark(s)} ${s.state} | ${s.ms !== undefined ? `${s.ms} ms` : ''} | ${cell(s.detail)} |`);
  return [`**Fallback chain on \`${report.environment}\`** at ${report.at}`, '', '| step | model | via | state | latency | detail |', '|---|---|---|---|---|---|', ...rows, ''].join('\n');
}

/** The chain issue: which steps fail, since when and for how many runs; the others answer. */
export function renderChainIssue(report: ChainReport, health: ChainHealth, opts: { runUrl?: string } = {}): { title: string; body: string; changeComment: string } {
  const failing = report.steps.filter((s) => s.state !== 'ok');
  const rows = report.steps.map((s) => {
    const h = health.steps[s.ref];
    // Since when, not how many runs: the body changes only when the health does.
    const since = s.state !== 'ok' && h?.since ? `since ${h.since}` : '';
    // The detail of a step that answers carries its latency, which changes every run: left out.
    return `| ${s.step} | \`${s.ref}\` | ${s.via} | ${mark(s)} ${s.state} | ${s.state === 'ok' ? '' : cell(s.detail)} | ${since} |`;
  });
  const title = `Fallback chain on ${report.environment}: ${failing.length} of ${report.steps.length} steps failing`;
  const body = [
    `**${failing.length} of ${report.steps.length} steps of the fallback chain on \`${report.environment}\` fail** when probed from the host through the path OpenClaw uses.`,
    '',
    '| step | model | via | state | detail | failing |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Users are served by the first step that answers; each failing step in front of it adds a failed attempt. ' +
      'This issue is opened after a step failed on consecutive scheduled runs, and closed when every step answers again.',
    '',
  ].join('\n');
  const changed = failing.map((s) => `\`${s.ref}\` (${s.state})`).join(', ');
  const changeComment = `The chain's health changed${opts.runUrl ? ` ([run](${opts.runUrl}))` : ''}: now failing ${changed}.`;
  return { title, body, changeComment };
}

export function renderChainResolvedComment(report: ChainReport, opts: { runUrl?: string } = {}): string {
  return `All ${report.steps.length} steps of the fallback chain on \`${report.environment}\` answer again (${report.at}${opts.runUrl ? `, [run](${opts.runUrl})` : ''}). Closing.`;
}
