import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OctokitGitHub } from '../../src/github/octokit.js';
import { CHAIN_LABEL, DRIFT_LABEL, GitHubError, markers } from '../../src/github/port.js';
import { startGitHubStandIn, type GitHubStandIn } from '../support/github-standin.js';

const TOKEN = 'ghs_standin_token_0123456789';
let gh: GitHubStandIn;
const adapter = (opts: { retries?: number; token?: string } = {}) =>
  new OctokitGitHub({ token: opts.token ?? TOKEN, baseUrl: gh.url, owner: 'acme', repo: 'claw', ...(opts.retries ? { retries: opts.retries } : {}) });
const since = (n: number) => gh.requests.slice(n).map((r) => `${r.method} ${r.path}${r.query.page ? `?page=${r.query.page}` : ''}`);

before(async () => {
  gh = await startGitHubStandIn({ owner: 'acme', repo: 'claw', token: TOKEN });
});
after(() => gh.close());

describe('sticky comment', () => {
  test('created once, then found past a full page of other comments and updated in place', async () => {
    const pr = gh.addPullRequest({ title: 'Move cerebras up' });
    for (let i = 0; i < 130; i++) gh.addComment(pr.number, `review note ${i}`);
    const github = adapter();
    const marker = markers.plan('ec2');

    const first = await github.upsertComment({ issueNumber: pr.number, marker, body: `${marker}\nPlan: 1 to change` });
    assert.equal(first.action, 'created');
    let n = gh.requests.length;
    const second = await github.upsertComment({ issueNumber: pr.number, marker, body: `${marker}\nPlan: 2 to change` });
    assert.deepEqual(second, { id: first.id, action: 'updated' });
    // 131 comments at 100 a page: the marker is on page 2, reached through the Link header.
    assert.deepEqual(since(n), [
      `GET /repos/acme/claw/issues/${pr.number}/comments`,
      `GET /repos/acme/claw/issues/${pr.number}/comments?page=2`,
      `PATCH /repos/acme/claw/issues/comments/${first.id}`,
    ]);
    assert.equal(gh.requests.at(-2)!.query.per_page, '100');

    n = gh.requests.length;
    const third = await github.upsertComment({ issueNumber: pr.number, marker, body: `${marker}\nPlan: 2 to change` });
    assert.deepEqual(third, { id: first.id, action: 'unchanged' });
    assert.ok(since(n).every((r) => r.startsWith('GET ')), 'an unchanged comment is not written again');

    const ours = gh.comments.filter((c) => c.body.includes(marker));
    assert.equal(ours.length, 1, 'one comment, never one per push');
    assert.equal(ours[0]!.body, `${marker}\nPlan: 2 to change`);
    assert.ok(gh.requests.every((r) => r.authorized && r.userAgent.startsWith('clawops')));
  });

  test('an edit rewrites the sticky comment in place from its body; with no comment there is nothing to edit', async () => {
    const pr = gh.addPullRequest({ title: 'a plan that failed' });
    gh.addComment(pr.number, 'a review that quotes <!-- clawops:plan:ec2 --> in passing');
    const github = adapter();
    const marker = markers.plan('ec2');
    let n = gh.requests.length;
    assert.equal(await github.editComment({ issueNumber: pr.number, marker, edit: (b) => `${b}, stale` }), null);
    assert.ok(since(n).every((r) => r.startsWith('GET ')), 'no comment of ours: nothing written');

    const { id } = await github.upsertComment({ issueNumber: pr.number, marker, body: `${marker}\nPlan: 1 to change` });
    n = gh.requests.length;
    assert.deepEqual(await github.editComment({ issueNumber: pr.number, marker, edit: (b) => `${b}\n(out of date)` }), { id, action: 'updated' });
    assert.deepEqual(since(n), [`GET /repos/acme/claw/issues/${pr.number}/comments`, `PATCH /repos/acme/claw/issues/comments/${id}`]);
    assert.equal(gh.comments.find((c) => c.id === id)!.body, `${marker}\nPlan: 1 to change\n(out of date)`);
    assert.deepEqual(await github.editComment({ issueNumber: pr.number, marker, edit: (b) => b }), { id, action: 'unchanged' });
  });

  test('the marker is added when the body lacks it, and each environment has its own comment', async () => {
    const pr = gh.addPullRequest({ title: 'two environments' });
    const github = adapter();
    await github.upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'ec2 plan' });
    await github.upsertComment({ issueNumber: pr.number, marker: markers.plan('staging'), body: 'staging plan' });
    await github.upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'ec2 plan, again' });
    assert.deepEqual(
      gh.comments.filter((c) => c.issue === pr.number).map((c) => c.body),
      ['<!-- clawops:plan:ec2 -->\nec2 plan, again', '<!-- clawops:plan:staging -->\nstaging plan'],
    );
  });
});

describe('drift issue', () => {
  test('opened, updated with a comment when the drift changes, left alone when not, closed with a comment', async () => {
    // Noise the search must skip: a pull request and an issue of another environment, same label.
    gh.addPullRequest({ title: 'unrelated' }).labels.push(DRIFT_LABEL);
    gh.addIssue({ title: 'Drift on staging', body: `${markers.drift('staging')}\nold`, labels: [DRIFT_LABEL] });
    const github = adapter();
    const issue = (body: string) => ({ env: 'ec2', title: 'Drift on ec2', body, labels: ['env:ec2'], changeComment: `The drift changed:\n${body}` });

    const opened = await github.upsertDriftIssue(issue('1 item drifted'));
    assert.equal(opened.action, 'opened');
    const created = gh.issues.get(opened.number)!;
    assert.deepEqual(created.labels, [DRIFT_LABEL, 'env:ec2']);
    assert.equal(created.body, `${markers.drift('ec2')}\n1 item drifted`);

    let n = gh.requests.length;
    assert.deepEqual(await github.upsertDriftIssue(issue('1 item drifted')), { number: opened.number, action: 'unchanged' });
    assert.deepEqual(since(n), ['GET /repos/acme/claw/issues'], 'unchanged drift writes nothing');
    assert.equal(gh.requests.at(-1)!.query.labels, DRIFT_LABEL);
    assert.equal(gh.requests.at(-1)!.query.state, 'open');

    n = gh.requests.length;
    assert.deepEqual(await github.upsertDriftIssue(issue('2 items drifted')), { number: opened.number, action: 'updated' });
    assert.deepEqual(since(n), ['GET /repos/acme/claw/issues', `PATCH /repos/acme/claw/issues/${opened.number}`, `POST /repos/acme/claw/issues/${opened.number}/comments`]);
    assert.equal(created.body, `${markers.drift('ec2')}\n2 items drifted`);
    assert.deepEqual(gh.comments.filter((c) => c.issue === opened.number).map((c) => c.body), ['The drift changed:\n2 items drifted']);

    const closed = await github.closeDriftIssue({ env: 'ec2', comment: 'No drift any more.' });
    assert.deepEqual(closed, { number: opened.number });
    assert.equal(created.state, 'closed');
    assert.equal(created.stateReason, 'completed');
    assert.equal(gh.comments.filter((c) => c.issue === opened.number).at(-1)!.body, 'No drift any more.');
    assert.equal(gh.issues.get(opened.number - 1)!.state, 'open', "another environment's issue is untouched");

    assert.equal(await github.closeDriftIssue({ env: 'ec2', comment: 'again' }), null, 'nothing open: nothing to close');
    assert.equal((await github.upsertDriftIssue(issue('back again'))).action, 'opened', 'a closed issue is not reopened: a new one is');
  });
});

describe('chain issue', () => {
  test("kept apart from drift: its own label and marker, so neither issue is taken for the other", async () => {
    const github = adapter();
    const drift = await github.upsertDriftIssue({ env: 'eu', title: 'Drift on eu', body: '1 item drifted', labels: ['env:eu'], changeComment: 'changed' });
    const chain = await github.upsertDriftIssue({ kind: 'chain', env: 'eu', title: 'Fallback chain on eu: 1 of 11 steps failing', body: 'step 8 failing', labels: ['env:eu'], changeComment: 'changed' });
    assert.equal(chain.action, 'opened', 'the open drift issue is not the chain issue');
    assert.notEqual(chain.number, drift.number);
    const created = gh.issues.get(chain.number)!;
    assert.equal(created.body, `${markers.chain('eu')}\nstep 8 failing`);
    assert.deepEqual([...created.labels].sort(), [CHAIN_LABEL, 'env:eu']);

    const n = gh.requests.length;
    assert.deepEqual(await github.upsertDriftIssue({ kind: 'chain', env: 'eu', title: 'Fallback chain on eu: 1 of 11 steps failing', body: 'step 8 failing', labels: ['env:eu'], changeComment: 'changed' }), { number: chain.number, action: 'unchanged' });
    assert.equal(gh.requests[n]!.query.labels, CHAIN_LABEL, 'found by its own label');

    assert.deepEqual(await github.closeDriftIssue({ kind: 'chain', env: 'eu', comment: 'All steps answer again.' }), { number: chain.number });
    assert.equal(created.state, 'closed');
    assert.equal(gh.issues.get(drift.number)!.state, 'open', 'closing the chain issue leaves drift alone');
  });
});

describe('the pull request of a pushed commit', () => {
  test('the merged pull request gets the apply comment', async () => {
    const merged = gh.addPullRequest({ title: 'merged', mergeCommitSha: 'abc1234def', merged: true });
    const open = gh.addPullRequest({ title: 'still open' });
    gh.setCommitPulls('abc1234def', [open.number, merged.number]);
    const github = adapter();
    const result = await github.commentOnPullRequestForCommit({ sha: 'abc1234def', marker: markers.apply('ec2'), body: 'Applied.' });
    assert.deepEqual(result && { pr: result.pullRequest, action: result.action }, { pr: merged.number, action: 'created' });
    assert.equal(gh.comments.at(-1)!.body, `${markers.apply('ec2')}\nApplied.`);

    gh.setCommitPulls('0000000aaa', []);
    assert.equal(await github.commentOnPullRequestForCommit({ sha: '0000000aaa', marker: markers.apply('ec2'), body: 'x' }), null);
  });
});

describe('errors', () => {
  test('an API error becomes a GitHubError with status, method and path, and no token', async () => {
    const github = adapter();
    await assert.rejects(
      () => github.upsertComment({ issueNumber: 9999, marker: markers.plan('ec2'), body: 'x' }),
      (e: unknown) => {
        assert.ok(e instanceof GitHubError);
        assert.equal(e.status, 404);
        assert.equal(e.method, 'GET');
        assert.equal(e.path, '/repos/acme/claw/issues/9999/comments');
        assert.equal(e.message, 'GitHub API: GET /repos/acme/claw/issues/9999/comments: 404 Not Found');
        assert.equal(e.cause?.documentationUrl, 'https://docs.github.com/rest');
        return true;
      },
    );

    const pr = gh.addPullRequest({ title: 'forbidden' });
    gh.fail({ method: 'POST', path: `/repos/acme/claw/issues/${pr.number}/comments`, status: 403, message: 'Resource not accessible by integration' });
    const denied = await github.upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'x' }).catch((e: unknown) => e);
    assert.ok(denied instanceof GitHubError);
    assert.equal(denied.status, 403);
    assert.equal(denied.method, 'POST');
    assert.match(denied.message, /403 Resource not accessible by integration$/);

    gh.fail({ method: 'POST', path: '/repos/acme/claw/issues', status: 422, message: 'Validation Failed', errors: [{ resource: 'Issue', code: 'invalid', field: 'labels' }] });
    const invalid = await github.upsertDriftIssue({ env: 'prod', title: 't', body: 'b', labels: [], changeComment: 'c' }).catch((e: unknown) => e);
    assert.ok(invalid instanceof GitHubError);
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.cause?.errors, [{ resource: 'Issue', code: 'invalid', field: 'labels' }]);

    const badToken = await adapter({ token: 'wrong-token-4242' }).closeDriftIssue({ env: 'ec2', comment: 'x' }).catch((e: unknown) => e);
    assert.ok(badToken instanceof GitHubError);
    assert.equal(badToken.status, 401);
    for (const e of [denied, invalid, badToken]) {
      const text = `${(e as Error).message} ${JSON.stringify(e)} ${(e as Error).stack}`;
      assert.ok(!text.includes(TOKEN) && !text.includes('wrong-token-4242'), 'the token never travels in an error');
    }
  });

  test('nothing listening: a GitHubError with status 0', async () => {
    const github = new OctokitGitHub({ token: TOKEN, baseUrl: 'http://127.0.0.1:9', owner: 'acme', repo: 'claw' });
    const e = await github.closeDriftIssue({ env: 'ec2', comment: 'x' }).catch((x: unknown) => x);
    assert.ok(e instanceof GitHubError);
    assert.equal(e.status, 0);
    assert.equal(e.path, '/repos/acme/claw/issues');
  });

  test('retries are off unless asked for: a 502 fails at once, one request', async () => {
    const pr = gh.addPullRequest({ title: 'flaky' });
    const path = `/repos/acme/claw/issues/${pr.number}/comments`;
    gh.fail({ method: 'GET', path, status: 502, message: 'Server Error', times: 1 });
    const n = gh.requests.length;
    const e = await adapter().upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'x' }).catch((x: unknown) => x);
    assert.ok(e instanceof GitHubError && e.status === 502);
    assert.equal(gh.requests.length - n, 1);

    gh.fail({ method: 'GET', path, status: 502, message: 'Server Error', times: 1 });
    const ok = await adapter({ retries: 1 }).upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'x' });
    assert.equal(ok.action, 'created', 'with retries: 1 the second try passes');
  });

  test('throttling is off: a rate-limited answer fails at once instead of waiting for the reset', async () => {
    const pr = gh.addPullRequest({ title: 'limited' });
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    gh.fail({
      method: 'GET',
      path: `/repos/acme/claw/issues/${pr.number}/comments`,
      status: 403,
      message: 'API rate limit exceeded for installation ID 1.',
      headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
    });
    const n = gh.requests.length;
    const e = await adapter().upsertComment({ issueNumber: pr.number, marker: markers.plan('ec2'), body: 'x' }).catch((x: unknown) => x);
    assert.ok(e instanceof GitHubError);
    assert.equal(e.status, 403);
    assert.match(e.message, /rate limit exceeded/);
    assert.equal(gh.requests.length - n, 1);
  });
});
