import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import type { ApplyOutcome } from '../apply/apply.js';
import { countPlan, hasChanges, listenerText, ruleText, summaryLine, type FileAction, type Plan, type PlanCounts, type ServiceAction } from '../plan/model.js';
import type { RenderedFileChange } from '../plan/render-diff.js';
import type { AcceptedFinding } from '../render/desired.js';
import type { SemanticChange } from '../plan/summary.js';
import { driftItems, driftTable } from './drift.js';
import { markers } from './markers.js';
import { lockNote, OVERRIDES_NOTE, stateNote, UNMANAGED_NOTE } from './terminal.js';

/** GitHub refuses a comment or issue body longer than this many characters. */
export const COMMENT_LIMIT = 65_536;

/** Whether a pull request was planned against its environment's host, and if not, why. */
export type PlanState = { state: 'planned'; plan: Plan } | { state: 'skipped'; reason: string } | { state: 'failed'; error: string };

/** Everything the pull-request comment says, as data: made once, rendered to the comment, plan.md and the job summary. */
export interface PullRequestReport {
  environment: string;
  /** The branch the pull request merges into, for words: "main". */
  baseRef: string;
  /** The pull request's head commit the report is for (a sticky comment shows which push it reflects). */
  revision?: string;
  /** The fallback chain on the base branch (null when its config does not load) and in the pull request. */
  chain: { before: string[] | null; after: string[] };
  /** What the pull request changes for the deployment, base → head. */
  semantic: SemanticChange[];
  /** The environment's rendered files, base → head. */
  files: RenderedFileChange[];
  plan: PlanState;
  /** The audit warnings the environment accepts in the pull request (security.accept), with their reasons. */
  accepted?: AcceptedFinding[];
  /** The pull request's config problems, formatted: when present, nothing else is shown. */
  problems?: string[];
}

export interface CommentOptions {
  /** Characters the body may hold; the comment is cut at a clean boundary to stay under it. */
  limit?: number;
  /** Where the full plan was uploaded (a workflow artifact), linked when the comment is cut. */
  artifactUrl?: string;
  /** The workflow run, linked at the foot. */
  runUrl?: string;
}

const FILE_SYMBOL: Record<FileAction, string> = { create: '+', update: '~', delete: '-', 'no-op': ' ' };
const SERVICE_SYMBOL: Record<ServiceAction, string> = { start: '+', restart: '~', reload: '↻', stop: '-', 'no-op': ' ' };
const LEGEND: Record<string, string> = { '+': '+ create', '~': '~ update', '-': '- destroy', '↻': '↻ hot reload' };

/** Text from config or the host, made safe to place in markdown and HTML: it can close no tag and open no comment. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A markdown code span that no backtick in the text can close. */
const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);

/** URLs and user@host addresses: GitHub would make them links (GFM's autolink extension), which a loopback URL must not be. */
const LINKABLE = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>`"']*[^\s<>`"'.,;:!?)]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;

/**
 * Text from config, the host or an error, as markdown prose: safe as `esc` makes it, no emphasis,
 * link or table cell opened by its punctuation, and every URL or address a code span, never a link.
 */
function prose(s: string): string {
  // An underscore inside a word opens no emphasis in GFM, so OPENCLAW_GATEWAY_TOKEN stays as it is.
  const text = (t: string) => esc(t).replace(/[\\`*[\]~|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\$&');
  let out = '';
  let at = 0;
  for (const m of s.matchAll(LINKABLE)) {
    out += text(s.slice(at, m.index)) + code(m[0]);
    at = m.index + m[0].length;
  }
  return out + text(s.slice(at));
}
const htmlCode = (s: string) => `<code>${esc(s)}</code>`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A fence longer than any run of backticks in the text, so no content can close it. */
function fenced(lang: string, text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text.endsWith('\n') ? text : `${text}\n`}${fence}`;
}

function legend(symbols: Iterable<string>): string {
  const used = new Set(symbols);
  return `Symbols: ${Object.keys(LEGEND)
    .filter((s) => used.has(s))
    .map((s) => LEGEND[s])
    .join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// The pull-request comment

/** The summary section: the plan line, restarts and reloads, the exit state. Also the job summary's head. */
export function renderPullRequestSummary(report: PullRequestReport): string {
  const env = code(report.environment);
  const lines = [`## clawops plan · ${env}${report.revision ? ` · ${code(report.revision.slice(0, 12))}` : ''}`, ''];
  if (report.problems?.length) {
    lines.push(`**The configuration is invalid: ${plural(report.problems.length, 'problem')}.** Nothing was rendered or planned.`, '');
    lines.push('- Exit state: `invalid`', '', 'The problems, each with its file, line and column:', '');
    // A list, not a code block: a long problem wraps in the column instead of scrolling sideways.
    const shown = report.problems.slice(0, 50);
    lines.push(...shown.map((p) => `- ${prose(p)}`));
    if (report.problems.length > shown.length) lines.push('', `… and ${report.problems.length - shown.length} more (see the annotations on the files).`);
    return lines.join('\n');
  }
  const p = report.plan;
  if (p.state === 'planned') {
    const c = countPlan(p.plan);
    lines.push(`**${esc(summaryLine(p.plan))}**`, '');
    if (c.restarts.length) lines.push(`- Restarts: ${c.restarts.map(code).join(', ')}`);
    if (c.reloads.length) lines.push(`- Hot reloads (no restart): ${c.reloads.map(code).join(', ')}`);
    lines.push(...edgeLines(p.plan), ...securityGroupLines(p.plan));
    if (hasChanges(p.plan)) lines.push(riskLine(c), `- Approval: merging starts the apply, which waits for a reviewer's approval in the GitHub environment ${env} before it changes anything.`);
    for (const l of p.plan.listeners ?? []) lines.push(`- Listening where the configuration does not say: ${code(l.unit)} ${esc(listenerText(l))}`);
    if (p.plan.uncompared.length) lines.push(`- Compared at apply: ${plural(p.plan.uncompared.length, 'sensitive file')} (their secret values are not available to this plan)`);
    const locked = lockNote(p.plan);
    if (locked) lines.push(`- Lock: ${esc(locked)}`);
    lines.push(
      hasChanges(p.plan)
        ? `- Exit state: \`changes\`: merging this pull request applies them to ${env} (${code(p.plan.target)}).`
        : `- Exit state: \`no-changes\`: merging this pull request changes nothing on ${env}.`,
    );
  } else if (p.state === 'skipped') {
    lines.push(`**Plan against ${esc(report.environment)} skipped: ${prose(p.reason)}.**`, '');
    lines.push('- Validate and render ran; the rendered files below are compared with the base branch, not with the host.');
    lines.push('- Exit state: `skipped`');
  } else {
    lines.push(`**Plan against ${esc(report.environment)} failed:** ${prose(p.error)}`, '');
    lines.push('- Exit state: `failed`');
  }
  for (const a of report.accepted ?? []) {
    lines.push(`- Accepted audit warning ${code(a.check)} (${code(`config/environments/${report.environment}.yaml`)} security.accept): ${prose(a.reason)}`);
  }
  const changed = report.files.filter((f) => f.action !== 'no-op');
  const n = (a: FileAction) => report.files.filter((f) => f.action === a).length;
  lines.push(
    changed.length
      ? `- Rendered files against ${code(report.baseRef)}: ${n('update')} changed, ${n('create')} added, ${n('delete')} removed, ${n('no-op')} unchanged.`
      : `- Rendered files against ${code(report.baseRef)}: no changes (${plural(report.files.length, 'file')}).`,
  );
  return lines.join('\n');
}

const GATEWAY = 'openclaw-gateway';

/**
 * What the merge interrupts: a gateway restart drops every client connected to it; a proxy
 * restart leaves its provider unreachable for the seconds it takes to start (OpenClaw falls back
 * along the chain meanwhile); a hot reload drops nothing.
 */
function riskLine(c: PlanCounts): string {
  const parts: string[] = [];
  if (c.restarts.includes(GATEWAY)) parts.push(`restarts the gateway (${code(GATEWAY)}): **every connected client is dropped**`);
  const proxies = c.restarts.filter((r) => r !== GATEWAY);
  if (proxies.length) {
    const providers = proxies.map((r) => r.replace(/-proxy$/, ''));
    parts.push(`restarts ${proxies.map(code).join(', ')}: ${providers.join(', ')} unreachable for a few seconds, the chain falling back past ${providers.length === 1 ? 'it' : 'them'}`);
  }
  if (c.reloads.length && !c.restarts.includes(GATEWAY)) parts.push(`hot reload of ${c.reloads.map(code).join(', ')}: no connection is dropped`);
  if (!parts.length) parts.push('no service restarts or reloads: nothing is dropped');
  return `- Risk: ${parts.join('; ')}.`;
}

/** The edge function's line: deployed, settings only, or why it was not compared. Names only. */
function edgeLines(plan: Plan): string[] {
  const e = plan.edge;
  if (!e || e.action === 'no-op') return [];
  const what = { deploy: 'Redeploys', settings: 'Updates the settings of', unknown: 'Did not compare', 'no-op': '' }[e.action];
  return [`- ${what} the edge function ${code(e.name)}: ${prose(e.reasons.join('; '))}`];
}

/** The security group's rules that change, and those set by hand that clawops leaves alone. */
function securityGroupLines(plan: Plan): string[] {
  const g = plan.securityGroup;
  if (!g) return [];
  const lines: string[] = [];
  const at = `${code(g.id)} (${g.region})`;
  if (g.action === 'unknown') lines.push(`- Did not compare the security group ${at}: ${prose(g.reasons.join('; '))}`);
  for (const r of g.rules) {
    if (r.action === 'authorize') lines.push(`- Security group ${at}: \`+\` allow ${code(ruleText(r))}: ${prose(r.reason)}`);
    if (r.action === 'revoke') lines.push(`- Security group ${at}: \`-\` revoke ${code(ruleText(r))}: ${prose(r.reason)}`);
    if (r.action === 'describe') lines.push(`- Security group ${at}: \`~\` describe ${code(ruleText(r))} as ${prose(r.description)} (was ${prose(r.was ?? '')})`);
  }
  for (const r of g.unmanaged) lines.push(`- Security group ${at}: ${code(ruleText(r))} ${prose(UNMANAGED_NOTE)}${r.description ? ` (${prose(r.description)})` : ''}`);
  return lines;
}

function semanticSection(report: PullRequestReport): string {
  const lines = ['### What changes for the deployment', ''];
  if (report.chain.before === null) lines.push(`The base branch's configuration does not load, so there is nothing to compare with.`);
  else if (!report.semantic.length) lines.push('Nothing changes in the fallback chain, the providers or the agents.');
  else for (const s of report.semantic) lines.push(`- ${prose(s.text)}`);
  return lines.join('\n');
}

/**
 * Text for a quoted mermaid label. Mermaid reads `#name;` as a character entity, so a `#` left as it
 * is can turn into another character (`m#v2;` shows as `m&v2;`), and on a line that holds "style",
 * a colon and a `#`, it drops a `;` (mermaid's encodeEntities, packages/mermaid/src/utils.ts). Every
 * character beyond letters, digits and `./_-` and space is written as its numeric entity (`#35;` for `#`),
 * which mermaid turns back into the character itself.
 */
const mermaidText = (s: string) => s.replace(/[^A-Za-z0-9 ./_-]/gu, (c) => `#${c.codePointAt(0)};`);

/**
 * Fills for the steps that changed, each with black text: mid-tone colours whose contrast with the
 * page is at least 3:1 on GitHub's light (#ffffff) and dark (#0d1117) backgrounds alike, as the
 * chains' own boxes are left transparent. What changed is also said in words beside the step.
 */
const STEP_CLASSES = [
  '  classDef added fill:#2da44e,stroke:#116329,color:#000000',
  '  classDef removed fill:#e5534b,stroke:#82071e,color:#000000,stroke-dasharray:4 2',
  '  classDef moved fill:#bf8700,stroke:#7d4e00,color:#000000',
];

/**
 * The fallback chain before and after as one mermaid flowchart, top to bottom: the base branch's
 * chain above the pull request's, one step a row, so that it stays as narrow as its longest model
 * id and its text is drawn full size in the comment column. Steps that changed are coloured and
 * say how (moved from, new, removed).
 */
export function chainDiagram(before: readonly string[], after: readonly string[], semantic: readonly SemanticChange[], baseRef: string): string {
  const refs = (kind: SemanticChange['kind']) => new Set(semantic.filter((s) => s.kind === kind && s.ref).map((s) => s.ref!));
  const added = refs('chain-step-added');
  const removed = refs('chain-step-removed');
  const moved = refs('chain-step-moved');
  const note = (id: 'base' | 'head', ref: string): [string, string] | null => {
    if (id === 'base') return removed.has(ref) ? ['removed', 'removed'] : null;
    if (added.has(ref)) return ['added', 'new'];
    if (moved.has(ref)) return ['moved', `was ${before.indexOf(ref) + 1}`];
    return null;
  };
  // Mermaid wraps a label wider than 200 px onto several lines; a model id reads best on one.
  const lines = ['%%{init: {"flowchart": {"wrappingWidth": 640}}}%%', 'flowchart TB'];
  const marked: Record<string, string[]> = { added: [], removed: [], moved: [] };
  const chain = (id: 'base' | 'head', title: string, steps: readonly string[]) => {
    lines.push(`  subgraph ${id}["${mermaidText(title)}"]`, '    direction TB');
    if (!steps.length) lines.push(`    ${id}0["(empty)"]`);
    steps.forEach((s, i) => {
      const n = note(id, s);
      if (n) marked[n[0]]!.push(`${id}${i + 1}`);
      lines.push(`    ${id}${i + 1}["${mermaidText(`${i + 1}. ${s}${n ? ` (${n[1]})` : ''}`)}"]`);
    });
    for (let i = 1; i < steps.length; i++) lines.push(`    ${id}${i} --> ${id}${i + 1}`);
    lines.push('  end', `  style ${id} fill:transparent`);
  };
  chain('base', `before: ${baseRef}`, before);
  chain('head', 'after: this pull request', after);
  // An invisible link from the last step before to the first after puts the second chain below the first.
  lines.push(`  base${before.length} ~~~ head${after.length ? 1 : 0}`);
  lines.push(...STEP_CLASSES);
  for (const [cls, nodes] of Object.entries(marked)) if (nodes.length) lines.push(`  class ${nodes.join(',')} ${cls}`);
  return fenced('mermaid', lines.join('\n'));
}

function chainSection(report: PullRequestReport): string | undefined {
  const { before, after } = report.chain;
  if (!before) return undefined;
  if (before.join('\n') === after.join('\n')) {
    return `### Fallback chain\n\nUnchanged: ${plural(after.length, 'step')}, primary ${code(after[0] ?? '(none)')}.`;
  }
  return [
    '### Fallback chain',
    '',
    chainDiagram(before, after, report.semantic, report.baseRef),
    '',
    'Steps that changed are coloured: green new, red removed, amber moved among the steps both chains share.',
  ].join('\n');
}

/** What apply would do on the host, from the plan model: files, services, runtime. */
function hostSection(plan: Plan, heading: string): string {
  const lines = [`${heading} ${code(plan.target)}`, ''];
  const files = plan.files.filter((f) => f.action !== 'no-op');
  const services = plan.services.filter((s) => s.action !== 'no-op' || s.enable);
  const runtime = plan.runtime.filter((r) => r.action !== 'no-op');
  const symbols = [
    ...files.map((f) => FILE_SYMBOL[f.action]),
    ...services.map((s) => SERVICE_SYMBOL[s.action]),
    ...runtime.map((r) => (r.from ? '~' : '+')),
    ...(plan.daemonReload ? ['~'] : []),
    ...(plan.overrides?.length ? ['-'] : []),
  ];
  lines.push(legend(symbols), '');
  if (runtime.length) {
    lines.push('| | runtime | version |', '|:-:|---|---|');
    for (const r of runtime) lines.push(`| ${r.from ? '~' : '+'} | ${r.component} | ${prose(r.from ?? '(none)')} → ${prose(r.to)} |`);
    lines.push('');
  }
  const state = stateNote(plan);
  if (state) lines.push(prose(state), '');
  if (files.length) {
    lines.push('| | file | why |', '|:-:|---|---|');
    for (const f of files) lines.push(`| ${FILE_SYMBOL[f.action]} | ${code(f.path)}${f.sensitive ? ' (sensitive)' : ''} | ${prose(f.reason)} |`);
    lines.push('');
  }
  if (plan.overrides?.length) {
    lines.push('| | systemd reads, clawops did not write | for |', '|:-:|---|---|');
    for (const o of plan.overrides) lines.push(`| - | ${code(o.path)} | ${o.kind} of ${code(o.unit)} |`);
    lines.push('', `${OVERRIDES_NOTE}`, '');
  }
  if (services.length || plan.daemonReload) {
    lines.push('| | service | why |', '|:-:|---|---|');
    if (plan.daemonReload) lines.push('| ~ | systemctl daemon-reload | unit files change |');
    for (const s of services) {
      const enable = s.enable && s.action !== 'stop' ? ', enable at boot' : '';
      lines.push(`| ${SERVICE_SYMBOL[s.action]} | ${code(s.name)} | ${s.action === 'no-op' ? 'keep' : s.action}: ${prose(s.reason)}${enable} |`);
    }
    lines.push('');
  }
  if (plan.uncompared.length) {
    lines.push('Compared at apply (their secret values are not available to this plan):', '');
    for (const p of plan.uncompared) lines.push(`- ${code(p)} (sensitive) — compared at apply`);
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

/** One rendered file's change: a unified diff folded in <details>, or only "(sensitive)"; and its line when it is left out. */
function fileBlock(f: RenderedFileChange): Block {
  const head = `${FILE_SYMBOL[f.action]} ${htmlCode(f.path)}`;
  if (f.sensitive) return { text: `- ${FILE_SYMBOL[f.action]} ${code(f.path)} (sensitive)`, omitted: [`${code(f.path)} (sensitive)`] };
  const patch = createTwoFilesPatch(
    f.action === 'create' ? '/dev/null' : `a${f.path}`,
    f.action === 'delete' ? '/dev/null' : `b${f.path}`,
    f.before ?? '',
    f.after ?? '',
    undefined,
    undefined,
    { context: 3, headerOptions: FILE_HEADERS_ONLY },
  );
  const body = patch.split('\n').slice(2).join('\n');
  const added = body.split('\n').filter((l) => l.startsWith('+')).length;
  const removed = body.split('\n').filter((l) => l.startsWith('-')).length;
  const stats = added || removed ? ` (+${added} −${removed})` : '';
  if (!body.trim()) return { text: `- ${FILE_SYMBOL[f.action]} ${code(f.path)}: ${prose(f.reason)}`, omitted: [`${code(f.path)}: ${prose(f.reason)}`] };
  return {
    text: [`<details><summary>${head}: ${esc(f.reason)}${stats}</summary>`, '', fenced('diff', patch), '', '</details>'].join('\n'),
    omitted: [`${code(f.path)}${stats}`],
  };
}

interface Block {
  text: string;
  /** A rendered file's diff (or the list of sensitive files): left out of the job summary. */
  file?: boolean;
  /** What the cut notice names when this block is left out, one line each (default: its first line). */
  omitted?: string[];
}

/** Lines the cut notice names at most; beyond that it counts them. */
const OMITTED_NAMED = 200;

/**
 * Joins blocks up to the limit. Blocks are never split, so no code fence or <details> is ever cut
 * open. The first block is always kept; of the rest, each one that fits is kept in its place and
 * each one that does not is left out, and a note at the end names every one left out and says
 * where the whole text is.
 */
function fit(blocks: Block[], tail: string, limit: number, where: string): string {
  const join = (bs: Block[]) => [...bs.map((b) => b.text), tail].filter(Boolean).join('\n\n');
  const all = join(blocks);
  if (all.length <= limit) return all;
  const notice = (left: Block[]): Block => {
    const lines = left.flatMap((b) => b.omitted ?? [b.text.split('\n')[0]!.replace(/^#+\s*/, '')]);
    const named = lines.slice(0, OMITTED_NAMED).map((l) => `> - ${l}`);
    if (lines.length > named.length) named.push(`> - … and ${lines.length - named.length} more`);
    const limitWords = `GitHub's limit of ${COMMENT_LIMIT.toLocaleString('en-US')} characters`;
    return { text: [`> [!NOTE]`, `> This comment is cut short to stay under ${limitWords}; ${where}. Not shown here:`, ...named].join('\n') };
  };
  const kept = new Set<Block>([blocks[0]!]);
  const text = () => join([...blocks.filter((b) => kept.has(b)), notice(blocks.filter((b) => !kept.has(b)))]);
  // Whatever is kept later only shortens the notice, so a block that fit stays fitting.
  for (const b of blocks.slice(1)) {
    kept.add(b);
    if (text().length > limit) kept.delete(b);
  }
  return text();
}

function pullRequestBlocks(report: PullRequestReport): Block[] {
  const blocks: Block[] = [{ text: renderPullRequestSummary(report) }];
  if (report.problems?.length) return blocks;
  blocks.push({ text: semanticSection(report) });
  const chain = chainSection(report);
  if (chain) blocks.push({ text: chain });
  if (report.plan.state === 'planned' && hasChanges(report.plan.plan)) blocks.push({ text: hostSection(report.plan.plan, '### What apply does on') });
  const changed = report.files.filter((f) => f.action !== 'no-op');
  if (!changed.length) {
    blocks.push({ text: `### Rendered files\n\nNo rendered file of ${code(report.environment)} changes against ${code(report.baseRef)}.` });
    return blocks;
  }
  blocks.push({
    text: `### Rendered files: ${code(report.baseRef)} → this pull request\n\n${legend(changed.map((f) => FILE_SYMBOL[f.action]))}. A sensitive file shows as (sensitive) only.`,
  });
  // Sensitive files first, as one list: one line each, never a diff.
  const sensitive = changed.filter((f) => f.sensitive);
  if (sensitive.length) {
    const list = sensitive.map(fileBlock);
    blocks.push({ text: list.map((b) => b.text).join('\n'), file: true, omitted: list.flatMap((b) => b.omitted!) });
  }
  for (const f of changed.filter((x) => !x.sensitive)) blocks.push({ ...fileBlock(f), file: true });
  return blocks;
}

/**
 * The sticky pull-request comment: the summary, what changes for the deployment, the chain before
 * and after, what apply does on the host, and each rendered file's diff, cut to fit GitHub's limit.
 * With no limit, the same text is the full plan (plan.md).
 */
export function renderPullRequestComment(report: PullRequestReport, opts: CommentOptions = {}): string {
  const [summary, ...rest] = pullRequestBlocks(report);
  const blocks = [{ text: `${markers.plan(report.environment)}\n${summary!.text}` }, ...rest];
  const foot = opts.runUrl ? `<sub>clawops · [workflow run](${opts.runUrl})</sub>` : '';
  const where = opts.artifactUrl ? `the full plan is in the workflow artifact: [plan.md](${opts.artifactUrl})` : "the full plan is in this run's artifacts (plan.md)";
  return `${fit(blocks, foot, opts.limit ?? COMMENT_LIMIT, where)}\n`;
}

/** The job summary: the comment without the per-file diffs (those are in the comment and plan.md). */
export function renderPullRequestJobSummary(report: PullRequestReport): string {
  return `${pullRequestBlocks(report)
    .filter((b) => !b.file)
    .map((b) => b.text)
    .join('\n\n')}\n`;
}

export interface StaleContext {
  environment: string;
  /** The push whose plan failed. */
  revision?: string;
  /** Why, in words: the error's message. */
  reason: string;
  runUrl?: string;
}

/**
 * The sticky plan comment, marked out of date: a warning above what it said, naming the push whose
 * plan failed, why, and the run. A later failure replaces the warning; the next plan, the comment.
 */
export function markPlanCommentStale(body: string, ctx: StaleContext): string {
  const marker = markers.plan(ctx.environment);
  let old = body.startsWith(marker) ? body.slice(marker.length).replace(/^\n/, '') : body;
  const previous = old.indexOf(markers.stale);
  if (previous >= 0) old = old.slice(previous + markers.stale.length).replace(/^\n+/, '');
  const push = ctx.revision ? ` for ${code(ctx.revision.slice(0, 12))}` : '';
  const run = ctx.runUrl ? ` ([workflow run](${ctx.runUrl}))` : '';
  const reason = ctx.reason.split('\n')[0]!.slice(0, 300);
  const notice = [
    '> [!WARNING]',
    `> **This plan is out of date.** The plan${push} failed before it could replace it: ${prose(reason)}${run}. What follows is the plan of an earlier push.`,
    markers.stale,
  ].join('\n');
  const whole = `${marker}\n${notice}\n\n${old}`;
  if (whole.length <= COMMENT_LIMIT) return whole;
  // Too long with the notice: keep the earlier plan's summary only.
  const summary = old.indexOf('\n### ');
  return `${marker}\n${notice}\n\n${summary >= 0 ? old.slice(0, summary) : ''}\n`;
}

// ---------------------------------------------------------------------------------------------
// The outcome of an apply: on the merged pull request and in the job summary

export interface ApplyOutcomeContext {
  environment: string;
  revision: string;
  release?: string;
  /** Lines the activation wrote on the host: steps, gates, the outcome. */
  log?: readonly string[];
  /** The smoke checks after the apply, as `apply --json` printed them (the deep audit's findings by checkId). */
  smoke?: readonly { name: string; ok: boolean; skipped?: boolean; detail: string }[];
  /** Why an apply that produced no result failed, in words. */
  detail?: string;
  runUrl?: string;
  limit?: number;
}

const LOG_LINES = 200;

const OUTCOME_TITLE: Record<ApplyOutcome, string> = {
  applied: '✅ applied',
  'no-changes': '✅ no changes',
  'rolled-back': '❌ rolled back',
  failed: '❌ failed',
};

export function renderApplyOutcomeMarkdown(outcome: ApplyOutcome, plan: Plan | null, ctx: ApplyOutcomeContext): string {
  const env = code(ctx.environment);
  const rev = code(ctx.revision);
  const words: Record<ApplyOutcome, string> = {
    applied: `Applied release ${code(ctx.release ?? '?')} (revision ${rev}) to ${env}.`,
    'no-changes': `${env} already matches ${rev}. Nothing was changed or restarted.`,
    'rolled-back': `A health gate failed, and ${env} is back on its previous release: revision ${rev} is **not** live.`,
    failed: `The apply of ${rev} to ${env} failed${ctx.detail ? `: ${prose(ctx.detail)}` : ''}. ${plan ? 'The release did not come up and the previous one could not be restored: the host needs attention.' : 'See the run log.'}`,
  };
  const head = [`${markers.apply(ctx.environment)}`, `## clawops apply · ${env}: ${OUTCOME_TITLE[outcome]}`, '', words[outcome]];
  if (plan) {
    const c = countPlan(plan);
    head.push('', `**${esc(summaryLine(plan))}**`, '');
    if (c.restarts.length) head.push(`- Restarts: ${c.restarts.map(code).join(', ')}`);
    if (c.reloads.length) head.push(`- Hot reloads (no restart): ${c.reloads.map(code).join(', ')}`);
    head.push(...edgeLines(plan), ...securityGroupLines(plan));
  }
  if (ctx.smoke?.length) {
    const ran = ctx.smoke.filter((c) => !c.skipped);
    const failed = ran.filter((c) => !c.ok);
    head.push(failed.length ? `- Smoke checks: **${failed.length} of ${ran.length} failed**` : `- Smoke checks: all ${ran.length} passed`);
    for (const c of failed) head.push(`  - ✘ ${esc(c.name)}: ${prose(c.detail)}`);
    const audit = ran.find((c) => c.name === 'security audit --deep' && c.ok);
    if (audit) head.push(`  - ✔ security audit --deep: ${prose(audit.detail)}`);
  }
  head.push(`- Exit state: \`${outcome}\``);
  const blocks: Block[] = [{ text: head.join('\n') }];
  if (plan && hasChanges(plan)) blocks.push({ text: hostSection(plan, outcome === 'applied' ? '### What apply did on' : '### What apply tried on') });
  if (ctx.log?.length) {
    const open = outcome === 'rolled-back' || outcome === 'failed' ? ' open' : '';
    // The end of the log says what went wrong; a long log keeps its last lines.
    const tail = ctx.log.length > LOG_LINES ? [`… ${ctx.log.length - LOG_LINES} earlier lines in the workflow run`, ...ctx.log.slice(-LOG_LINES)] : ctx.log;
    blocks.push({
      text: [`<details${open}><summary>Activation log on the host</summary>`, '', fenced('text', tail.join('\n')), '', '</details>'].join('\n'),
      omitted: [`the activation log on the host (${plural(ctx.log.length, 'line')})`],
    });
  }
  const foot = ctx.runUrl ? `<sub>clawops · [workflow run](${ctx.runUrl})</sub>` : '';
  const where = ctx.runUrl ? `the whole log is in the [workflow run](${ctx.runUrl})` : 'the whole log is in the workflow run';
  return `${fit(blocks, foot, ctx.limit ?? COMMENT_LIMIT, where)}\n`;
}

// ---------------------------------------------------------------------------------------------
// The drift issue

export interface DriftIssue {
  title: string;
  /** Stable for the same drift: it changes only when the drift does. */
  body: string;
  /** Posted on the issue when the drift changed. */
  changeComment: string;
}

export function renderDriftIssue(plan: Plan, ctx: { runUrl?: string } = {}): DriftIssue {
  const items = driftItems(plan);
  const env = code(plan.environment);
  const run = ctx.runUrl ? ` ([workflow run](${ctx.runUrl}))` : '';
  const count = plural(items.length, 'item');
  return {
    title: `Drift on ${plan.environment}`,
    body: [
      markers.drift(plan.environment),
      `clawops found drift on ${env} (${code(plan.target)}): ${count}.`,
      '',
      driftTable(items),
      '',
      `Drift reports only: nothing was changed on the host. \`clawops apply --env ${plan.environment}\` (or the next merge to main) repairs it; a change made on the host by hand belongs in config/ instead.`,
      '',
      'This issue is updated when the drift changes and closed when it is gone.',
      '',
    ].join('\n'),
    changeComment: [`The drift on ${env} changed, checked against ${code(plan.revision)}${run}: ${count}.`, '', driftTable(items), ''].join('\n'),
  };
}

export function renderDriftResolvedComment(plan: Plan, ctx: { runUrl?: string } = {}): string {
  const run = ctx.runUrl ? ` ([workflow run](${ctx.runUrl}))` : '';
  return `No drift on ${code(plan.environment)} any more: the host matches ${code(plan.revision)}${run}. Closing.\n`;
}
