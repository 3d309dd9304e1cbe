// A local stand-in for the part of GitHub's REST API clawops uses, on 127.0.0.1: the real paths,
// JSON shapes, Link-header pagination (per_page, page) and error bodies, so the real octokit talks
// to it over real HTTP. It records every request, body included.
//
//   const gh = await startGitHubStandIn({ owner: 'acme', repo: 'claw', token: 't0ken' });
//   ... new OctokitGitHub({ token: 't0ken', baseUrl: gh.url, owner: 'acme', repo: 'claw' }) ...
//   await gh.close();
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  /** The raw request body, as sent. */
  body: string;
  /** Whether the request carried the expected token. */
  authorized: boolean;
  userAgent: string;
}

export interface StandInComment {
  id: number;
  issue: number;
  body: string;
  user: string;
}

export interface StandInIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: 'open' | 'closed';
  stateReason: string | null;
  isPullRequest: boolean;
  /** Pull requests only. */
  mergeCommitSha?: string;
  mergedAt?: string | null;
}

export interface Failure {
  method: string;
  /** Matches the request path exactly. */
  path: string;
  status: number;
  message: string;
  headers?: Record<string, string>;
  errors?: unknown[];
  /** How many requests fail before it passes (default: every one). */
  times?: number;
}

export interface GitHubStandIn {
  url: string;
  requests: RecordedRequest[];
  issues: Map<number, StandInIssue>;
  comments: StandInComment[];
  addIssue(issue: Partial<StandInIssue> & { title: string }): StandInIssue;
  addPullRequest(pr: { title: string; mergeCommitSha?: string; merged?: boolean }): StandInIssue;
  addComment(issue: number, body: string, user?: string): StandInComment;
  /** Pull requests GET /commits/{sha}/pulls returns, by number. */
  setCommitPulls(sha: string, numbers: number[]): void;
  fail(failure: Failure): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
const TIME = '2026-01-01T00:00:00Z';

export async function startGitHubStandIn(opts: { owner: string; repo: string; token: string }): Promise<GitHubStandIn> {
  const requests: RecordedRequest[] = [];
  const issues = new Map<number, StandInIssue>();
  const comments: StandInComment[] = [];
  const commitPulls = new Map<string, number[]>();
  const failures: Failure[] = [];
  let nextNumber = 1;
  let nextCommentId = 1000;
  const prefix = `/repos/${opts.owner}/${opts.repo}`;
  let base = '';

  const issueJson = (i: StandInIssue) => ({
    id: 5000 + i.number,
    node_id: `I_${i.number}`,
    url: `${base}${prefix}/issues/${i.number}`,
    html_url: `https://github.com/${opts.owner}/${opts.repo}/${i.isPullRequest ? 'pull' : 'issues'}/${i.number}`,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    state_reason: i.stateReason,
    labels: i.labels.map((name, n) => ({ id: 100 + n, node_id: `L_${name}`, name, color: 'ededed', default: false, description: null })),
    user: { login: 'octocat', id: 1, type: 'User' },
    comments: comments.filter((c) => c.issue === i.number).length,
    created_at: TIME,
    updated_at: TIME,
    closed_at: i.state === 'closed' ? TIME : null,
    ...(i.isPullRequest ? { pull_request: { url: `${base}${prefix}/pulls/${i.number}`, merged_at: i.mergedAt ?? null } } : {}),
  });
  const pullJson = (i: StandInIssue) => ({
    id: 7000 + i.number,
    number: i.number,
    state: i.mergedAt ? 'closed' : 'open',
    title: i.title,
    body: i.body,
    html_url: `https://github.com/${opts.owner}/${opts.repo}/pull/${i.number}`,
    merged_at: i.mergedAt ?? null,
    merge_commit_sha: i.mergeCommitSha ?? null,
    base: { ref: 'main' },
    head: { ref: `feature-${i.number}` },
  });
  const commentJson = (c: StandInComment) => ({
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${base}${prefix}/issues/comments/${c.id}`,
    html_url: `https://github.com/${opts.owner}/${opts.repo}/issues/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${base}${prefix}/issues/${c.issue}`,
    body: c.body,
    user: { login: c.user, id: 2, type: c.user.endsWith('[bot]') ? 'Bot' : 'User' },
    created_at: TIME,
    updated_at: TIME,
  });

  function send(res: ServerResponse, status: number, data: unknown, headers: Record<string, string> = {}): void {
    const text = data === undefined ? '' : JSON.stringify(data);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', ...headers });
    res.end(text);
  }
  function error(res: ServerResponse, status: number, message: string, extra: { errors?: unknown[]; headers?: Record<string, string> } = {}): void {
    send(res, status, { message, ...(extra.errors ? { errors: extra.errors } : {}), documentation_url: DOCS, status: String(status) }, extra.headers);
  }

  /** One page of a list, with a Link header exactly as GitHub writes it. */
  function page(res: ServerResponse, path: string, query: Record<string, string>, items: unknown[]): void {
    const perPage = Math.min(Math.max(Number(query.per_page ?? 30) || 30, 1), 100);
    const current = Math.max(Number(query.page ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number) => {
      const q = new URLSearchParams({ ...query, per_page: String(perPage), page: String(n) });
      return `${base}${path}?${q}`;
    };
    const rels: string[] = [];
    if (current > 1) rels.push(`<${link(current - 1)}>; rel="prev"`);
    if (current < last) rels.push(`<${link(current + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`);
    if (current > 1) rels.push(`<${link(1)}>; rel="first"`);
    send(res, 200, items.slice((current - 1) * perPage, current * perPage), rels.length ? { link: rels.join(', ') } : {});
  }

  function route(req: IncomingMessage, res: ServerResponse, r: RecordedRequest): void {
    const failure = failures.find((f) => f.method === r.method && f.path === r.path && (f.times ?? Infinity) > 0);
    if (failure) {
      if (failure.times !== undefined) failure.times--;
      return error(res, failure.status, failure.message, { ...(failure.errors ? { errors: failure.errors } : {}), ...(failure.headers ? { headers: failure.headers } : {}) });
    }
    if (!r.authorized) return error(res, 401, 'Bad credentials');
    if (!r.path.startsWith(`${prefix}/`)) return error(res, 404, 'Not Found');
    const rest = r.path.slice(prefix.length);
    let json: Record<string, unknown> = {};
    if (r.body) {
      try {
        json = JSON.parse(r.body);
      } catch {
        return error(res, 400, 'Problems parsing JSON');
      }
    }
    let m: RegExpMatchArray | null;

    if ((m = rest.match(/^\/issues\/(\d+)\/comments$/))) {
      const issue = issues.get(Number(m[1]));
      if (!issue) return error(res, 404, 'Not Found');
      if (r.method === 'GET') return page(res, r.path, r.query, comments.filter((c) => c.issue === issue.number).map(commentJson));
      if (r.method === 'POST') {
        if (typeof json.body !== 'string' || !json.body) return error(res, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }] });
        if (json.body.length > 65536) return error(res, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] });
        const c = { id: nextCommentId++, issue: issue.number, body: json.body, user: 'github-actions[bot]' };
        comments.push(c);
        return send(res, 201, commentJson(c));
      }
    }
    if ((m = rest.match(/^\/issues\/comments\/(\d+)$/)) && r.method === 'PATCH') {
      const c = comments.find((x) => x.id === Number(m![1]));
      if (!c) return error(res, 404, 'Not Found');
      if (typeof json.body !== 'string' || json.body.length > 65536) return error(res, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'invalid', field: 'body' }] });
      c.body = json.body;
      return send(res, 200, commentJson(c));
    }
    if (rest === '/issues' && r.method === 'GET') {
      const labels = (r.query.labels ?? '').split(',').filter(Boolean);
      const state = r.query.state ?? 'open';
      const list = [...issues.values()]
        .filter((i) => state === 'all' || i.state === state)
        .filter((i) => labels.every((l) => i.labels.includes(l)))
        .sort((a, b) => b.number - a.number)
        .map(issueJson);
      return page(res, r.path, r.query, list);
    }
    if (rest === '/issues' && r.method === 'POST') {
      if (typeof json.title !== 'string' || !json.title) return error(res, 422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }] });
      const i = addIssue({ title: json.title, body: typeof json.body === 'string' ? json.body : '', labels: Array.isArray(json.labels) ? (json.labels as string[]) : [] });
      return send(res, 201, issueJson(i));
    }
    if ((m = rest.match(/^\/issues\/(\d+)$/)) && r.method === 'PATCH') {
      const i = issues.get(Number(m[1]));
      if (!i) return error(res, 404, 'Not Found');
      if (typeof json.title === 'string') i.title = json.title;
      if (typeof json.body === 'string') i.body = json.body;
      if (json.state === 'open' || json.state === 'closed') i.state = json.state;
      if (typeof json.state_reason === 'string') i.stateReason = json.state_reason;
      if (Array.isArray(json.labels)) i.labels = json.labels as string[];
      return send(res, 200, issueJson(i));
    }
    if ((m = rest.match(/^\/issues\/(\d+)\/labels$/)) && r.method === 'POST') {
      const i = issues.get(Number(m[1]));
      if (!i) return error(res, 404, 'Not Found');
      const add = Array.isArray(json.labels) ? (json.labels as string[]) : [];
      i.labels = [...new Set([...i.labels, ...add])];
      return send(res, 200, i.labels.map((name, n) => ({ id: 100 + n, name })));
    }
    if ((m = rest.match(/^\/commits\/([0-9a-f]{7,40})\/pulls$/)) && r.method === 'GET') {
      const numbers = commitPulls.get(m[1]!);
      if (!numbers) return error(res, 422, `No commit found for SHA: ${m[1]}`);
      return page(res, r.path, r.query, numbers.map((n) => pullJson(issues.get(n)!)));
    }
    return error(res, 404, 'Not Found');
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      const auth = req.headers.authorization ?? '';
      const r: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: Buffer.concat(chunks).toString('utf8'),
        authorized: auth === `token ${opts.token}` || auth === `Bearer ${opts.token}`,
        userAgent: String(req.headers['user-agent'] ?? ''),
      };
      requests.push(r);
      try {
        route(req, res, r);
      } catch (e) {
        error(res, 500, `stand-in failure: ${(e as Error).message}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function addIssue(issue: Partial<StandInIssue> & { title: string }): StandInIssue {
    const i: StandInIssue = { number: nextNumber++, body: '', labels: [], state: 'open', stateReason: null, isPullRequest: false, ...issue };
    issues.set(i.number, i);
    return i;
  }

  return {
    url: base,
    requests,
    issues,
    comments,
    addIssue,
    addPullRequest: (pr) =>
      addIssue({ title: pr.title, isPullRequest: true, ...(pr.mergeCommitSha ? { mergeCommitSha: pr.mergeCommitSha } : {}), mergedAt: pr.merged ? TIME : null }),
    addComment(issue, body, user = 'octocat') {
      const c = { id: nextCommentId++, issue, body, user };
      comments.push(c);
      return c;
    },
    setCommitPulls: (sha, numbers) => void commitPulls.set(sha, numbers),
    fail: (f) => void failures.push(f),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
