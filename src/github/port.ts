/**
 * The one narrow interface clawops talks to GitHub through: what the workflows need, no more.
 * One adapter (octokit.ts) implements it over the REST API; tests above it use a recording fake.
 * Every body passed in is posted as given: callers build it from models that hold no secret value.
 */
export interface GitHubPort {
  /**
   * The sticky comment: the one comment on the issue or pull request holding `marker`, updated in
   * place (every page of comments is searched), or created when there is none.
   */
  upsertComment(input: { issueNumber: number; marker: string; body: string }): Promise<{ id: number; action: 'created' | 'updated' | 'unchanged' }>;

  /**
   * Rewrites the sticky comment holding `marker` on the issue or pull request as `edit` returns it
   * (given its body, marker first); null when there is none. Marks a comment out of date while
   * keeping what it said.
   */
  editComment(input: { issueNumber: number; marker: string; edit: (body: string) => string }): Promise<{ id: number; action: 'updated' | 'unchanged' } | null>;

  /**
   * The one open issue of an environment of a kind (drift by default, or the chain's health),
   * found by the kind's label and the hidden marker in its body. Opened when there is none; when
   * its text changed, the body is replaced and a comment says so; when it did not, it is left alone.
   */
  upsertDriftIssue(input: { env: string; title: string; body: string; labels: string[]; changeComment: string; kind?: IssueKind }): Promise<{
    number: number;
    action: 'opened' | 'updated' | 'unchanged';
  }>;

  /** Closes the environment's open issue of the kind (drift by default), if any, with a comment saying why. */
  closeDriftIssue(input: { env: string; comment: string; kind?: IssueKind }): Promise<{ number: number } | null>;

  /**
   * The pull request a pushed commit came from (GET /repos/{owner}/{repo}/commits/{sha}/pulls),
   * and a sticky comment on it; null when the commit came from no pull request.
   */
  commentOnPullRequestForCommit(input: { sha: string; marker: string; body: string }): Promise<{
    pullRequest: number;
    id: number;
    action: 'created' | 'updated' | 'unchanged';
  } | null>;
}

export { markers } from '../report/markers.js';

/** The label every drift issue carries, beside the environment's own. */
export const DRIFT_LABEL = 'clawops-drift';

/** The label every chain-health issue carries, beside the environment's own. */
export const CHAIN_LABEL = 'clawops-chain';

/** The issues clawops keeps, one open per environment and kind: config drift, and the chain's health. */
export type IssueKind = 'drift' | 'chain';

export const ISSUE_LABELS: Record<IssueKind, string> = { drift: DRIFT_LABEL, chain: CHAIN_LABEL };

/** A failed GitHub API call, with what a person needs to act on it. Never carries the token. */
export class GitHubError extends Error {
  constructor(
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    readonly method: string,
    /** The URL path called, such as /repos/o/r/issues/7/comments (no host, no query). */
    readonly path: string,
    message: string,
    /** What GitHub said: its message, documentation URL and field errors. */
    override readonly cause?: { message: string; documentationUrl?: string; errors?: unknown[] },
  ) {
    super(`GitHub API: ${method} ${path}: ${status ? `${status} ` : ''}${message}`);
    this.name = 'GitHubError';
  }
}
