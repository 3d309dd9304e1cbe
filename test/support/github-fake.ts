import type { GitHubPort, IssueKind } from '../../src/github/port.js';

export type PortCall =
  | { method: 'upsertComment'; input: Parameters<GitHubPort['upsertComment']>[0] }
  | { method: 'editComment'; input: Parameters<GitHubPort['editComment']>[0] }
  | { method: 'upsertDriftIssue'; input: Parameters<GitHubPort['upsertDriftIssue']>[0] }
  | { method: 'closeDriftIssue'; input: Parameters<GitHubPort['closeDriftIssue']>[0] }
  | { method: 'commentOnPullRequestForCommit'; input: Parameters<GitHubPort['commentOnPullRequestForCommit']>[0] };

/**
 * A recording fake of the GitHub port, for everything above it. It keeps just enough state to
 * answer like GitHub would: one comment per marker, one open issue per environment and kind.
 */
export class RecordingGitHub implements GitHubPort {
  readonly calls: PortCall[] = [];
  readonly comments = new Map<string, { id: number; issue: number; body: string }>();
  readonly driftIssues = new Map<string, { number: number; title: string; body: string; open: boolean; comments: string[] }>();
  /** The chain-health issues, by environment, kept apart from drift as GitHub keeps them apart by label. */
  readonly chainIssues = new Map<string, { number: number; title: string; body: string; open: boolean; comments: string[] }>();
  /** Pull request number for each commit; a commit not listed came from no pull request. */
  readonly commitPulls = new Map<string, number>();
  private next = 1;

  async upsertComment(input: { issueNumber: number; marker: string; body: string }) {
    this.calls.push({ method: 'upsertComment', input });
    const key = `${input.issueNumber} ${input.marker}`;
    const existing = this.comments.get(key);
    if (existing) {
      const action = existing.body === input.body ? ('unchanged' as const) : ('updated' as const);
      existing.body = input.body;
      return { id: existing.id, action };
    }
    const id = this.next++;
    this.comments.set(key, { id, issue: input.issueNumber, body: input.body });
    return { id, action: 'created' as const };
  }

  async editComment(input: { issueNumber: number; marker: string; edit: (body: string) => string }) {
    this.calls.push({ method: 'editComment', input });
    const existing = this.comments.get(`${input.issueNumber} ${input.marker}`);
    if (!existing) return null;
    const body = input.edit(existing.body);
    const action = body === existing.body ? ('unchanged' as const) : ('updated' as const);
    existing.body = body;
    return { id: existing.id, action };
  }

  private issues(kind: IssueKind | undefined) {
    return kind === 'chain' ? this.chainIssues : this.driftIssues;
  }

  async upsertDriftIssue(input: { env: string; title: string; body: string; labels: string[]; changeComment: string; kind?: IssueKind }) {
    this.calls.push({ method: 'upsertDriftIssue', input });
    const open = this.issues(input.kind).get(input.env);
    if (!open?.open) {
      const number = this.next++;
      this.issues(input.kind).set(input.env, { number, title: input.title, body: input.body, open: true, comments: [] });
      return { number, action: 'opened' as const };
    }
    if (open.body === input.body && open.title === input.title) return { number: open.number, action: 'unchanged' as const };
    open.body = input.body;
    open.title = input.title;
    open.comments.push(input.changeComment);
    return { number: open.number, action: 'updated' as const };
  }

  async closeDriftIssue(input: { env: string; comment: string; kind?: IssueKind }) {
    this.calls.push({ method: 'closeDriftIssue', input });
    const open = this.issues(input.kind).get(input.env);
    if (!open?.open) return null;
    open.open = false;
    open.comments.push(input.comment);
    return { number: open.number };
  }

  async commentOnPullRequestForCommit(input: { sha: string; marker: string; body: string }) {
    this.calls.push({ method: 'commentOnPullRequestForCommit', input });
    const pr = this.commitPulls.get(input.sha);
    if (pr === undefined) return null;
    return { pullRequest: pr, ...(await this.upsertComment({ issueNumber: pr, marker: input.marker, body: input.body })) };
  }

  /** Every body handed to GitHub, for checks that no secret travels. */
  bodies(): string[] {
    // An edit is a function: what it made is in the comment it changed.
    return [...this.calls.map((c) => JSON.stringify(c.input)), ...[...this.comments.values()].map((c) => c.body)];
  }
}
