import { Octokit, RequestError } from 'octokit';
import { GitHubError, ISSUE_LABELS, markers, type GitHubPort, type IssueKind } from './port.js';

export interface OctokitGitHubOptions {
  token: string;
  /** The REST API root: https://api.github.com, GITHUB_API_URL on GitHub Enterprise or a test stand-in. */
  baseUrl?: string;
  owner: string;
  repo: string;
  /** Retries of a failed request (5xx, network); 0 turns retrying off. Default 0. */
  retries?: number;
  /** Wait out rate limits (and space out writes) as octokit's throttling plugin does. Default off. */
  throttle?: boolean;
}

interface IssueComment {
  id: number;
  body?: string | null;
}

interface Issue {
  number: number;
  title: string;
  body?: string | null;
  pull_request?: unknown;
}

interface PullRequest {
  number: number;
  merged_at?: string | null;
  merge_commit_sha?: string | null;
}

/** Starts the body with the hidden marker, so the comment or issue is found again next time. */
const withMarker = (marker: string, body: string) => (body.startsWith(marker) ? body : `${marker}\n${body}`);

/**
 * The GitHub adapter: the only importer of octokit. Every octokit error leaves this file as a
 * GitHubError with the status, method and path of the call.
 */
export class OctokitGitHub implements GitHubPort {
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;

  constructor(opts: OctokitGitHubOptions) {
    this.owner = opts.owner;
    this.repo = opts.repo;
    const retries = opts.retries ?? 0;
    // Retry a rate-limited request once, as octokit does by default; beyond that the run fails.
    const onLimit = (_after: number, options: { request: { retryCount: number } }) => options.request.retryCount === 0;
    this.octokit = new Octokit({
      auth: opts.token,
      baseUrl: (opts.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
      userAgent: 'clawops',
      retry: { enabled: retries > 0, retries },
      throttle: opts.throttle ? { enabled: true, onRateLimit: onLimit, onSecondaryRateLimit: onLimit } : { enabled: false },
      // octokit's own log lines go nowhere: errors reach the caller as GitHubError instead.
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
  }

  async upsertComment(input: { issueNumber: number; marker: string; body: string }) {
    return this.call(async () => {
      const body = withMarker(input.marker, input.body);
      const existing = await this.findComment(input.issueNumber, input.marker);
      if (existing) {
        if (existing.body === body) return { id: existing.id, action: 'unchanged' as const };
        await this.octokit.rest.issues.updateComment({ owner: this.owner, repo: this.repo, comment_id: existing.id, body });
        return { id: existing.id, action: 'updated' as const };
      }
      const { data } = await this.octokit.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: input.issueNumber, body });
      return { id: data.id, action: 'created' as const };
    });
  }

  async editComment(input: { issueNumber: number; marker: string; edit: (body: string) => string }) {
    return this.call(async () => {
      const existing = await this.findComment(input.issueNumber, input.marker);
      if (!existing) return null;
      const body = withMarker(input.marker, input.edit(existing.body ?? ''));
      if (existing.body === body) return { id: existing.id, action: 'unchanged' as const };
      await this.octokit.rest.issues.updateComment({ owner: this.owner, repo: this.repo, comment_id: existing.id, body });
      return { id: existing.id, action: 'updated' as const };
    });
  }

  async upsertDriftIssue(input: { env: string; title: string; body: string; labels: string[]; changeComment: string; kind?: IssueKind }) {
    const kind = input.kind ?? 'drift';
    return this.call(async () => {
      const body = withMarker(markers[kind](input.env), input.body);
      const open = await this.findIssue(input.env, kind);
      if (!open) {
        const labels = [...new Set([ISSUE_LABELS[kind], ...input.labels])];
        const { data } = await this.octokit.rest.issues.create({ owner: this.owner, repo: this.repo, title: input.title, body, labels });
        return { number: data.number, action: 'opened' as const };
      }
      if (open.body === body && open.title === input.title) return { number: open.number, action: 'unchanged' as const };
      await this.octokit.rest.issues.update({ owner: this.owner, repo: this.repo, issue_number: open.number, title: input.title, body });
      await this.octokit.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: open.number, body: input.changeComment });
      return { number: open.number, action: 'updated' as const };
    });
  }

  async closeDriftIssue(input: { env: string; comment: string; kind?: IssueKind }) {
    return this.call(async () => {
      const open = await this.findIssue(input.env, input.kind ?? 'drift');
      if (!open) return null;
      await this.octokit.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: open.number, body: input.comment });
      await this.octokit.rest.issues.update({ owner: this.owner, repo: this.repo, issue_number: open.number, state: 'closed', state_reason: 'completed' });
      return { number: open.number };
    });
  }

  async commentOnPullRequestForCommit(input: { sha: string; marker: string; body: string }) {
    const pulls = await this.call(() =>
      this.octokit.paginate(this.octokit.rest.repos.listPullRequestsAssociatedWithCommit, {
        owner: this.owner,
        repo: this.repo,
        commit_sha: input.sha,
        per_page: 100,
      }),
    );
    // The pull request whose merge produced this commit; failing that, the first merged one.
    const list = pulls as PullRequest[];
    const pr = list.find((p) => p.merge_commit_sha === input.sha) ?? list.find((p) => p.merged_at) ?? null;
    if (!pr) return null;
    const comment = await this.upsertComment({ issueNumber: pr.number, marker: input.marker, body: input.body });
    return { pullRequest: pr.number, ...comment };
  }

  /** Searches every page: on a busy pull request the sticky comment may be far down. */
  private async findComment(issueNumber: number, marker: string): Promise<IssueComment | undefined> {
    const comments: IssueComment[] = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
      owner: this.owner,
      repo: this.repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    // Starts with: a comment that merely quotes the marker is not ours.
    return comments.find((c) => c.body?.startsWith(marker));
  }

  private async findIssue(env: string, kind: IssueKind): Promise<Issue | undefined> {
    const issues: Issue[] = await this.octokit.paginate(this.octokit.rest.issues.listForRepo, {
      owner: this.owner,
      repo: this.repo,
      labels: ISSUE_LABELS[kind],
      state: 'open',
      per_page: 100,
    });
    // The issues list includes pull requests; ours is an issue carrying the marker.
    return issues.find((i) => !i.pull_request && i.body?.startsWith(markers[kind](env)));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw translate(e);
    }
  }
}

/** octokit's RequestError (or a network failure) as our GitHubError; the request headers stay behind. */
function translate(e: unknown): unknown {
  if (e instanceof GitHubError) return e;
  if (e instanceof RequestError) {
    const method = e.request.method ?? 'GET';
    const path = pathOf(e.request.url);
    const data = e.response?.data as { message?: string; documentation_url?: string; errors?: unknown[] } | string | undefined;
    if (e.response && typeof data === 'object' && data?.message) {
      return new GitHubError(e.status, method, path, data.message, {
        message: data.message,
        ...(data.documentation_url ? { documentationUrl: data.documentation_url } : {}),
        ...(data.errors ? { errors: data.errors } : {}),
      });
    }
    // No response (connection refused, DNS…): octokit reports status 500 with the fetch error.
    const status = e.response ? e.status : 0;
    const reason = (e.cause as Error | undefined)?.message ?? e.message;
    return new GitHubError(status, method, path, reason, { message: reason });
  }
  return e;
}

function pathOf(url: string | undefined): string {
  if (!url) return '(unknown)';
  try {
    return new URL(url).pathname;
  } catch {
    return url.replace(/\?.*$/, '');
  }
}
