/**
 * The program that probes the chain on the host, with the host's own Node, in one round trip. It
 * reads each key from the env file clawops wrote (as the services read it), puts it only into the
 * request's header, and replaces it in anything it returns. It carries no logic of its own: what to
 * request is the plan, what the answers mean is `classifyProbe`.
 *
 * It runs two ways, from the same probes:
 *
 * - sent with its plan on stdin (`node -e`), as the deploying user through sudo, where the host has
 *   no read-only user;
 * - installed by apply beside the facts program, with the plan apply rendered, for the read-only
 *   user (`clawops-facts --chain`): nothing of what it requests comes from the caller. There it
 *   keeps the record of its own runs, returns the earlier ones with its answers, and refuses to run
 *   sooner than the plan's interval after the last run.
 */
import type { ChainProbe, ChainProbePlan, ProbeAnswer } from './chain.js';
import type { Command } from '../transport/transport.js';

/** The probes themselves: they expect `plan` and leave `results`, one answer per step. */
const PROBES = String.raw`
const envFiles = new Map();
// The env files apply writes: NAME=value, or NAME="value" with \ before " \ $ and backquote.
const readEnv = async (file) => {
  if (!envFiles.has(file)) {
    const { readFile } = await import('node:fs/promises');
    envFiles.set(file, readFile(file, 'utf8').then((text) => {
      const vars = {};
      for (const line of text.split('\n')) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (!m) continue;
        const v = m[2];
        vars[m[1]] = v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(["\\$` + '`' + String.raw`])/g, '$1') : v;
      }
      return vars;
    }, () => ({})));
  }
  return envFiles.get(file);
};
const headersFor = (auth, key) => auth === 'bearer' ? { authorization: 'Bearer ' + key } : auth === 'x-goog-api-key' ? { 'x-goog-api-key': key } : {};
const clean = (text, key) => (key ? text.split(key).join('***') : text).slice(0, 600);
const causeOf = (err) => {
  if (err && err.name === 'TimeoutError') return 'no answer within ' + plan.timeoutMs + ' ms';
  const c = err && err.cause;
  return String((c && (c.code || c.message)) || (err && err.message) || err);
};
const request = async (url, init, key) => {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(plan.timeoutMs) });
    const body = await res.text();
    return { status: res.status, ms: Math.round(performance.now() - started), body, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    return { status: null, ms: Math.round(performance.now() - started), error: clean(causeOf(err), key) };
  }
};
const lists = new Map();
const listModels = (probe, key) => {
  const id = probe.list.url + ' ' + probe.list.auth;
  if (!lists.has(id)) lists.set(id, (async () => {
    const ids = [];
    let pageToken = '';
    for (let page = 0; page < 10; page++) {
      const url = probe.list.format === 'gemini' ? probe.list.url + '?pageSize=1000' + (pageToken ? '&pageToken=' + encodeURIComponent(pageToken) : '') : probe.list.url;
      const r = await request(url, { headers: headersFor(probe.list.auth, key) }, key);
      if (r.status === null || r.status < 200 || r.status > 299) return { status: r.status, ...(r.error ? { error: r.error } : {}) };
      let json;
      try { json = JSON.parse(r.body); } catch { return { status: r.status, error: 'not JSON' }; }
      if (probe.list.format === 'gemini') {
        for (const m of json.models ?? []) if (typeof m.name === 'string') ids.push(m.name.replace(/^models\//, ''));
        pageToken = json.nextPageToken ?? '';
        if (!pageToken) break;
      } else {
        for (const m of json.data ?? []) {
          if (typeof m.id === 'string') ids.push(m.id);
          for (const a of Array.isArray(m.aliases) ? m.aliases : []) if (typeof a === 'string') ids.push(a);
        }
        break;
      }
    }
    return { status: 200, ids };
  })());
  return lists.get(id);
};
const results = await Promise.all(plan.probes.map(async (probe) => {
  const key = (await readEnv(probe.key.file))[probe.key.variable] ?? '';
  if (!key) return { step: probe.step, key: 'missing', list: { status: null }, chat: { status: null, ms: 0 } };
  const [list, chat] = await Promise.all([
    listModels(probe, key),
    request(probe.chat.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headersFor(probe.chat.auth, key) }, body: JSON.stringify(probe.chat.body) }, key),
  ]);
  return { step: probe.step, key: 'present', list, chat: { status: chat.status, ms: chat.ms, ...(chat.body !== undefined ? { body: clean(chat.body, key) } : {}), ...(chat.retryAfter ? { retryAfter: chat.retryAfter } : {}), ...(chat.error ? { error: chat.error } : {}) } };
}));
`;

export const CHAIN_PROBE_PROGRAM = String.raw`
let input = '';
for await (const chunk of process.stdin) input += chunk;
const plan = JSON.parse(input);
${PROBES}
process.stdout.write(JSON.stringify({ answers: results }) + '\n');
`;

/** A probe as a report names it: enough to classify its answer, without where it went. */
export type ProbeRef = Pick<ChainProbe, 'step' | 'ref' | 'via' | 'model'>;

/** The plan apply installs beside the probe program: the probes, and how often they may run. */
export interface InstalledChainPlan extends ChainProbePlan {
  /** The least time between two runs: a login that may start the probe cannot make it a flood of paid requests. */
  minIntervalSeconds: number;
  /** The most earlier runs the program keeps. */
  keepRuns: number;
}

/** One run as the installed program records it. Model lists are cut to the probed model: whether it was listed is all a later run needs. */
export interface ChainRun {
  at: string;
  probes: ProbeRef[];
  answers: ProbeAnswer[];
}

/** What the installed program prints: this run, and the earlier runs it kept. */
export interface InstalledProbeOutput extends ChainRun {
  previous: ChainRun[];
}

/** One run per 15 minutes: a scheduled run and a few by hand fit, a loop holding the read-only key does not. */
export const CHAIN_PROBE_MIN_INTERVAL_SECONDS = 900;
/** Two months of daily runs: a step failing longer than that is reported as failing since the oldest run kept. */
export const CHAIN_PROBE_KEEP_RUNS = 60;

export function installedChainPlan(plan: ChainProbePlan): InstalledChainPlan {
  return { ...plan, minIntervalSeconds: CHAIN_PROBE_MIN_INTERVAL_SECONDS, keepRuns: CHAIN_PROBE_KEEP_RUNS };
}

/**
 * The installed program: `node chain-probe.mjs PLAN RUNS`, run by the facts program (as the
 * gateway's user, under a lock on the plan). RUNS is a folder of that user's where it keeps
 * `runs.json`: when the last run started, and the runs back to the newest one in which every step
 * answered (what the consecutive-failure rule needs), at most the plan's keepRuns. The start is
 * recorded before any request, so a run cut short still counts.
 */
export const INSTALLED_CHAIN_PROBE_PROGRAM = String.raw`// chain-probe: probes clawops's fallback chain with the plan beside it. Installed by clawops apply; do not edit.
import { readFile, rename, writeFile } from 'node:fs/promises';
const [planPath, runsDir] = process.argv.slice(2);
const fail = (line, code) => { process.stderr.write('chain-probe: ' + line + '\n'); process.exit(code); };
if (!planPath || !runsDir) fail('usage: chain-probe PLAN RUNS', 64);
let plan;
try { plan = JSON.parse(await readFile(planPath, 'utf8')); } catch (err) { fail('cannot read the plan ' + planPath + ': ' + (err.code || err.message), 66); }
const recordPath = runsDir + '/runs.json';
let record = { version: 1, lastStart: null, runs: [] };
try {
  const r = JSON.parse(await readFile(recordPath, 'utf8'));
  if (r && r.version === 1 && Array.isArray(r.runs)) record = r;
} catch {}
const save = async (r) => {
  try {
    await writeFile(recordPath + '.new', JSON.stringify(r) + '\n', { mode: 0o600 });
    await rename(recordPath + '.new', recordPath);
  } catch (err) {
    fail('cannot keep the record of runs in ' + runsDir + ': ' + (err.code || err.message), 73);
  }
};
const started = new Date();
const last = record.lastStart ? Date.parse(record.lastStart) : NaN;
const wait = Math.ceil((last + plan.minIntervalSeconds * 1000 - started.getTime()) / 1000);
// A last start in the future (the clock was set back) holds nothing up.
if (wait > 0 && wait <= plan.minIntervalSeconds) {
  fail('refused: the chain was probed at ' + record.lastStart + '; one run per ' + plan.minIntervalSeconds + ' s, the next in ' + wait + ' s', 64);
}
const previous = record.runs;
await save({ ...record, lastStart: started.toISOString() });
${PROBES}
const probes = plan.probes.map((p) => ({ step: p.step, ref: p.ref, via: p.via, model: p.model }));
const run = { at: started.toISOString(), probes, answers: results };
// As classifyProbe has it, a step is ok exactly when its key was there and its chat answered 2xx.
const answered = (a) => a.key === 'present' && a.chat.status !== null && a.chat.status >= 200 && a.chat.status < 300;
const cut = (r) => ({ ...r, answers: r.answers.map((a) => {
  const model = (r.probes.find((p) => p.step === a.step) || {}).model;
  return a.list && Array.isArray(a.list.ids) ? { ...a, list: { ...a.list, ids: a.list.ids.filter((id) => id === model) } } : a;
}) });
const runs = [...previous, cut(run)];
let from = runs.length - 1;
while (from > 0 && !runs[from].answers.every(answered)) from--;
await save({ version: 1, lastStart: started.toISOString(), runs: runs.slice(from).slice(-plan.keepRuns) });
process.stdout.write(JSON.stringify({ ...run, previous }) + '\n');
`;

/** The installed program's output, or null when it is not that. */
export function parseInstalledProbe(stdout: string): InstalledProbeOutput | null {
  try {
    const v = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Partial<InstalledProbeOutput>;
    return typeof v.at === 'string' && Array.isArray(v.probes) && Array.isArray(v.answers) && Array.isArray(v.previous) ? (v as InstalledProbeOutput) : null;
  } catch {
    return null;
  }
}

/**
 * The one command that runs the probes: the host's Node with the program, as the user the
 * services run as (the env files are theirs, mode 0600). The plan goes on stdin.
 */
export function chainProbeCommand(nodeBin: string, user: string | undefined): Command {
  return [...(user ? ['sudo', '-n', '-u', user, '-H'] : []), nodeBin, '--input-type=module', '-e', CHAIN_PROBE_PROGRAM];
}

export function chainProbeInput(plan: ChainProbePlan): string {
  return JSON.stringify(plan);
}
