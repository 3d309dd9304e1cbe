/**
 * The program that probes the chain on the host, run with the host's own Node in one round trip:
 * the plan arrives on stdin, the answers leave as one JSON line on stdout. It reads each key from
 * the env file clawops wrote (as the services read it), puts it only into the request's header,
 * and replaces it in anything it returns. It carries no logic of its own: what to request is the
 * plan, what the answers mean is `classifyProbe`.
 */
import type { ChainProbePlan } from './chain.js';
import type { Command } from '../transport/transport.js';

export const CHAIN_PROBE_PROGRAM = String.raw`
let input = '';
for await (const chunk of process.stdin) input += chunk;
const plan = JSON.parse(input);
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
process.stdout.write(JSON.stringify({ answers: results }) + '\n');
`;

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
