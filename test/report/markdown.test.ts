import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareRenders } from '../../src/plan/render-diff.js';
import {
  chainDiagram,
  COMMENT_LIMIT,
  markPlanCommentStale,
  renderApplyOutcomeMarkdown,
  renderDriftIssue,
  renderPullRequestComment,
  renderPullRequestJobSummary,
  renderPullRequestSummary,
  type PullRequestReport,
} from '../../src/report/markdown.js';
import { CANARY, representativeReport } from '../support/pr-fixture.js';

const { report, plan, base, head } = await representativeReport();
const comment = renderPullRequestComment(report, { runUrl: 'https://github.com/acme/claw/actions/runs/7' });

/** The text of one `### heading` section of the comment, up to the next heading. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n### ${heading}`);
  assert.ok(start >= 0, `no section ${heading}`);
  const end = text.indexOf('\n### ', start + 1);
  return text.slice(start + 1, end < 0 ? undefined : end).trimEnd();
}

describe('the pull-request comment (a representative plan)', () => {
  test('opens with the marker and the summary: the plan line, restarts, the exit state', () => {
    assert.equal(
      comment.slice(0, comment.indexOf('\n### ')),
      [
        '<!-- clawops:plan:ec2 -->',
        '## clawops plan · `ec2`',
        '',
        '**Plan: 0 to add, 3 to change, 0 to destroy; restarts: gemini-proxy, openclaw-gateway**',
        '',
        '- Restarts: `gemini-proxy`, `openclaw-gateway`',
        '- Risk: restarts the gateway (`openclaw-gateway`): **every connected client is dropped**; restarts `gemini-proxy`: gemini unreachable for a few seconds, the chain falling back past it.',
        "- Approval: merging starts the apply, which waits for a reviewer's approval in the GitHub environment `ec2` before it changes anything.",
        '- Exit state: `changes`: merging this pull request applies them to `ec2` (`ubuntu@ec2-host`).',
        '- Rendered files against `main`: 2 changed, 0 added, 0 removed, 15 unchanged.',
        '',
      ].join('\n'),
    );
  });

  test('then the semantic changes: chain steps moved, added, removed; models; agents', () => {
    assert.equal(
      section(comment, 'What changes for the deployment'),
      [
        '### What changes for the deployment',
        '',
        '- primary model: deepseek/deepseek-chat → cerebras/llama-3.3-70b',
        '- chain step 11 removed: gemini/gemini-2.5-flash-lite',
        '- chain step 11 added: gemini/gemini-3-pro',
        '- chain step moved: cerebras/llama-3.3-70b from step 3 to step 1',
        '- chain step moved: deepseek/deepseek-chat from step 1 to step 2',
        '- chain step moved: kimi/kimi-k2.5 from step 2 to step 3',
        '- model added: gemini/gemini-3-pro',
        '- agent scribe model: (chain primary) → groq/llama-3.3-70b-versatile',
      ].join('\n'),
    );
  });

  test('a mermaid flowchart of the chain, top to bottom: before, then after, the changed steps marked in colour and words', () => {
    const chain = section(comment, 'Fallback chain');
    assert.match(chain, /^### Fallback chain\n\n```mermaid\n%%\{init: \{"flowchart": \{"wrappingWidth": 640\}\}\}%%\nflowchart TB\n {2}subgraph base\["before#58; main"\]\n {4}direction TB\n {4}base1\["1. deepseek\/deepseek-chat"\]\n/);
    const at = (s: string) => chain.indexOf(s);
    assert.ok(at('  subgraph base[') < at('  subgraph head['), 'the base branch first');
    assert.match(chain, /\n {4}head1\["1. cerebras\/llama-3.3-70b #40;was 3#41;"\]\n {4}head2\["2. deepseek\/deepseek-chat #40;was 1#41;"\]\n/);
    assert.match(chain, /\n {4}base11\["11. gemini\/gemini-2.5-flash-lite #40;removed#41;"\]\n/);
    assert.match(chain, /\n {4}head11\["11. gemini\/gemini-3-pro #40;new#41;"\]\n/);
    assert.match(chain, /\n {2}base11 ~~~ head1\n/, 'the second chain below the first');
    assert.ok(chain.includes('\n  class head11 added\n  class base11 removed\n  class head1,head2,head3 moved\n```\n'), chain);
    assert.equal((chain.match(/ --> /g) ?? []).length, 20, 'two chains of 11 steps');
  });

  test('what apply does on the host, from the plan model', () => {
    assert.equal(
      section(comment, 'What apply does on'),
      [
        '### What apply does on `ubuntu@ec2-host`',
        '',
        'Symbols: ~ update',
        '',
        '| | file | why |',
        '|:-:|---|---|',
        '| ~ | `/home/ubuntu/.openclaw/gateway.env` (sensitive) | content differs |',
        '| ~ | `/home/ubuntu/.openclaw/openclaw.json` | content differs |',
        '| ~ | `/home/ubuntu/openclaw-proxies/gemini/proxy.json` | content differs |',
        '',
        '| | service | why |',
        '|:-:|---|---|',
        '| ~ | `gemini-proxy.service` | restart: inputs changed: proxy.json |',
        '| ~ | `openclaw-gateway.service` | restart: inputs changed: gateway.env |',
      ].join('\n'),
    );
  });

  test('each changed rendered file: a unified diff (base → pull request) folded in <details>', () => {
    const files = section(comment, 'Rendered files');
    assert.deepEqual(
      [...files.matchAll(/^<details><summary>(.*)<\/summary>$/gm)].map((m) => m[1]),
      ['~ <code>/home/ubuntu/.openclaw/openclaw.json</code>: content differs (+25 −4)', '~ <code>/home/ubuntu/openclaw-proxies/gemini/proxy.json</code>: content differs (+6 −0)'],
    );
    assert.ok(
      files.includes(
        [
          '<details><summary>~ <code>/home/ubuntu/openclaw-proxies/gemini/proxy.json</code>: content differs (+6 −0)</summary>',
          '',
          '```diff',
          '--- a/home/ubuntu/openclaw-proxies/gemini/proxy.json',
          '+++ b/home/ubuntu/openclaw-proxies/gemini/proxy.json',
          '@@ -17,6 +17,12 @@',
          '       "name": "Gemini 2.5 Flash-Lite",',
          '       "contextWindow": 1048576,',
          '       "maxTokens": 65536',
          '+    },',
          '+    {',
          '+      "id": "gemini-3-pro",',
          '+      "name": "Gemini 3 Pro",',
          '+      "contextWindow": 1048576,',
          '+      "maxTokens": 65536',
          '     }',
          '   ]',
          ' }',
          '```',
          '',
          '</details>',
        ].join('\n'),
      ),
    );
    assert.match(files, /^-\s+"primary": "deepseek\/deepseek-chat",\n\+\s+"primary": "cerebras\/llama-3\.3-70b",$/m);
    assert.ok(comment.endsWith('\n\n<sub>clawops · [workflow run](https://github.com/acme/claw/actions/runs/7)</sub>\n'));
  });

  test('a sensitive file shows as (sensitive) only: no content, no digest, no secret value', () => {
    // The base's gateway.env template differs by a name: the file changed, and nothing of it shows.
    const probe = base.files.map((f) => (f.name === 'gateway.env' ? { ...f, content: `${f.content}LEAK_PROBE_NAME=LEAK_PROBE_SECRET\n` } : f));
    const sensitiveReport: PullRequestReport = { ...report, files: compareRenders(probe, head.files) };
    const text = renderPullRequestComment(sensitiveReport);
    assert.match(text, /^- ~ `\/home\/ubuntu\/\.openclaw\/gateway\.env` \(sensitive\)$/m);
    assert.ok(!text.includes('LEAK_PROBE'));
    assert.ok(!/<summary>[^<]*<code>\/home\/ubuntu\/\.openclaw\/gateway\.env/.test(text), 'never a diff of it');
    for (const out of [text, comment, renderPullRequestJobSummary(report), renderApplyOutcomeMarkdown('applied', plan, { environment: 'ec2', revision: 'abc123' }), renderDriftIssue(plan).body]) {
      assert.ok(!out.includes(CANARY.before) && !out.includes(CANARY.after), 'no secret value');
      assert.ok(!/[0-9a-f]{64}/.test(out), 'no digest');
    }
  });

  test('the job summary: the same summary section, without the diffs or the marker', () => {
    const summary = renderPullRequestJobSummary(report);
    assert.ok(summary.startsWith(comment.slice(comment.indexOf('## clawops plan'), comment.indexOf('\n### '))));
    assert.ok(!summary.includes('<details>') && !summary.includes('clawops:plan'));
    assert.match(summary, /```mermaid/);
  });
});

test("the apply report names each smoke check that failed after the apply, the deep audit's findings by checkId", () => {
  const smoke = [
    { name: 'gateway health (WebSocket)', ok: true, detail: 'ok, OpenClaw 2026.9.6' },
    { name: 'bridge health', ok: true, skipped: true, detail: 'skipped: no bridge' },
    { name: 'security audit --deep', ok: false, detail: 'critical gateway.bind_no_auth (Gateway binds beyond loopback without auth); 1 accepted (models.weak_tier)' },
  ];
  const text = renderApplyOutcomeMarkdown('applied', plan, { environment: 'ec2', revision: 'abc123', release: 'r2', smoke });
  assert.match(text, /^- Smoke checks: \*\*1 of 2 failed\*\*$/m);
  assert.match(text, /^ {2}- ✘ security audit --deep: critical gateway\.bind_no_auth \(Gateway binds beyond loopback without auth\); 1 accepted \(models\.weak_tier\)$/m);
  const passed = renderApplyOutcomeMarkdown('applied', plan, { environment: 'ec2', revision: 'abc123', release: 'r2', smoke: [{ ...smoke[2]!, ok: true, detail: 'no critical finding, no unaccepted warning' }] });
  assert.match(passed, /^- Smoke checks: all 1 passed\n {2}- ✔ security audit --deep: no critical finding, no unaccepted warning$/m);
});

describe('the 65,536-character limit', () => {
  // Five new files of about 22,000 characters of diff each: two fit beside the rest of the comment.
  const big = (n: number) => Array.from({ length: 1100 }, (_, i) => `line ${i} of file ${n}`).join('\n');
  const huge: PullRequestReport = {
    ...report,
    files: compareRenders(
      Array.from({ length: 5 }, (_, n) => ({ path: `/srv/f${n}.txt`, mode: 0o644, sensitive: false, content: '' })),
      Array.from({ length: 5 }, (_, n) => ({ path: `/srv/f${n}.txt`, mode: 0o644, sensitive: false, content: big(n) })),
    ),
  };

  test('a larger comment is cut between files, never inside a fence or <details>, and links the full plan', () => {
    const text = renderPullRequestComment(huge, { artifactUrl: 'https://github.com/acme/claw/actions/runs/7/artifacts/42' });
    assert.ok(text.length <= COMMENT_LIMIT, `${text.length} characters`);
    assert.equal((text.match(/<details>/g) ?? []).length, 2, 'two whole files fit');
    assert.equal((text.match(/<\/details>/g) ?? []).length, 2);
    assert.equal((text.match(/^```/gm) ?? []).length % 2, 0, 'every fence closed');
    assert.ok(
      text.endsWith(
        [
          '</details>',
          '',
          "> [!NOTE]",
          "> This comment is cut short to stay under GitHub's limit of 65,536 characters; the full plan is in the workflow artifact: [plan.md](https://github.com/acme/claw/actions/runs/7/artifacts/42). Not shown here:",
          '> - `/srv/f2.txt` (+1100 −0)',
          '> - `/srv/f3.txt` (+1100 −0)',
          '> - `/srv/f4.txt` (+1100 −0)',
          '',
        ].join('\n'),
      ),
      text.slice(-600),
    );
    assert.ok(text.includes('### What apply does on'), 'the summary and the plan come first, whole');
  });

  test('a file that does not fit is skipped, and the smaller ones after it are kept', () => {
    // A big diff first, then a 2-line one: the comment keeps the small one and names the big one.
    const files = compareRenders(
      [
        { path: '/srv/big.txt', mode: 0o644, sensitive: false, content: '' },
        { path: '/srv/small.txt', mode: 0o644, sensitive: false, content: 'old\n' },
        { path: '/srv/key.env', mode: 0o600, sensitive: true, content: 'A=\n' },
      ],
      [
        { path: '/srv/big.txt', mode: 0o644, sensitive: false, content: big(0) },
        { path: '/srv/small.txt', mode: 0o644, sensitive: false, content: 'new\n' },
        { path: '/srv/key.env', mode: 0o600, sensitive: true, content: 'B=\n' },
      ],
    );
    const full = renderPullRequestComment({ ...report, files }, { limit: Infinity });
    const limit = full.length - 10_000;
    const text = renderPullRequestComment({ ...report, files }, { limit });
    assert.ok(text.length <= limit);
    assert.match(text, /<details><summary>~ <code>\/srv\/small\.txt<\/code>: content differs \(\+1 −1\)<\/summary>\n\n```diff\n[^]*\n-old\n\+new\n```/);
    assert.match(text, /^- ~ `\/srv\/key\.env` \(sensitive\)$/m);
    assert.match(text, /Not shown here:\n> - `\/srv\/big\.txt` \(\+1100 −0\)\n$/);
  });

  test('without a limit (plan.md) nothing is cut', () => {
    const full = renderPullRequestComment(huge, { limit: Infinity });
    assert.equal((full.match(/<\/details>/g) ?? []).length, 5);
    assert.ok(!full.includes('cut short'));
  });
});

describe('other states', () => {
  test('a fork: the plan is skipped, and the comment says why', () => {
    const text = renderPullRequestComment({ ...report, plan: { state: 'skipped', reason: 'secrets are not available to pull requests from forks' } });
    assert.equal(
      text.slice(0, text.indexOf('\n### ')),
      [
        '<!-- clawops:plan:ec2 -->',
        '## clawops plan · `ec2`',
        '',
        '**Plan against ec2 skipped: secrets are not available to pull requests from forks.**',
        '',
        '- Validate and render ran; the rendered files below are compared with the base branch, not with the host.',
        '- Exit state: `skipped`',
        '- Rendered files against `main`: 2 changed, 0 added, 0 removed, 15 unchanged.',
        '',
      ].join('\n'),
    );
    assert.ok(!text.includes('What apply does'));
  });

  test('config text cannot break out of the comment: no raw HTML, no fake marker', () => {
    const text = renderPullRequestComment({
      ...report,
      semantic: [{ kind: 'chain-step-added', text: 'chain step 1 added: x/</details><!-- clawops:plan:ec2 -->', ref: 'x/"y"' }],
      chain: { before: ['a/b'], after: ['x/"y"'] },
      files: [{ path: '/srv/a.md', action: 'update', reason: 'content differs', sensitive: false, before: 'a\n', after: '```\n</details>\n' }],
    });
    assert.equal(text.split('<!-- clawops:plan:ec2 -->').length, 2, 'one marker');
    assert.equal((text.match(/<\/details>/g) ?? []).length, 2, 'the closing tag inside the diff, and the real one');
    assert.match(text, /^````diff$/m, 'a longer fence around content with ```');
    assert.match(text, /x\/&lt;\/details&gt;&lt;!-- clawops:plan:ec2 --&gt;/);
    assert.match(chainDiagram(['a/b'], ['x/"y"'], [], 'main'), /head1\["1\. x\/#34;y#34;"\]/);
  });

  test('apply outcomes: applied, no changes, rolled back, failed', () => {
    const ctx = { environment: 'ec2', revision: 'abc123', release: 'r2' };
    const title = (o: Parameters<typeof renderApplyOutcomeMarkdown>[0], p = plan) => renderApplyOutcomeMarkdown(o, p, ctx).split('\n')[1];
    assert.equal(title('applied'), '## clawops apply · `ec2`: ✅ applied');
    assert.equal(title('no-changes'), '## clawops apply · `ec2`: ✅ no changes');
    assert.equal(title('rolled-back'), '## clawops apply · `ec2`: ❌ rolled back');
    assert.equal(title('failed'), '## clawops apply · `ec2`: ❌ failed');
    const applied = renderApplyOutcomeMarkdown('applied', plan, ctx);
    assert.match(applied, /^Applied release `r2` \(revision `abc123`\) to `ec2`\.$/m);
    assert.match(applied, /^### What apply did on `ubuntu@ec2-host`$/m);
    const long = renderApplyOutcomeMarkdown('failed', plan, { ...ctx, log: Array.from({ length: 500 }, (_, i) => `step ${i}`) });
    assert.match(long, /```text\n… 300 earlier lines in the workflow run\nstep 300\n/);
    assert.match(long, /step 499\n```/);
  });

  test('the drift issue body depends on the drift only, not on the revision', () => {
    const a = renderDriftIssue(plan);
    const b = renderDriftIssue({ ...plan, revision: 'def456' }, { runUrl: 'https://github.com/acme/claw/actions/runs/8' });
    assert.equal(a.body, b.body);
    assert.equal(a.title, 'Drift on ec2');
    assert.ok(a.body.startsWith('<!-- clawops:drift:ec2 -->\nclawops found drift on `ec2` (`ubuntu@ec2-host`): 3 items.\n'));
    assert.match(b.changeComment, /^The drift on `ec2` changed, checked against `def456` \(\[workflow run\]\(https:\/\/github\.com\/acme\/claw\/actions\/runs\/8\)\): 3 items\.$/m);
  });
});

test('the edge function appears in the summary with its reasons, names only', () => {
  const withEdge = { ...plan, edge: { name: 'openclaw-bridge', projectRef: 'qsyncscriptbridgeprd', action: 'deploy' as const, reasons: ["the function's source changed", 'secret OPENCLAW_GATEWAY_TOKEN changed'] } };
  const out = renderApplyOutcomeMarkdown('applied', withEdge, { environment: 'ec2', revision: 'abc123' });
  assert.match(out, /^- Redeploys the edge function `openclaw-bridge`: the function's source changed; secret OPENCLAW_GATEWAY_TOKEN changed$/m);
  assert.match(out, /redeploys: openclaw-bridge/);
});

test('a lock on the host is in the summary: who holds it, and what the apply after the merge will meet', () => {
  const locked = (alive: boolean) =>
    renderPullRequestComment({ ...report, plan: { state: 'planned', plan: { ...plan, lock: { holder: 'ops<bot>@runner-3', since: '2026-11-30T10:00:00.000Z', alive } } } })
      .split('\n')
      .filter((l) => l.startsWith('- Lock: '));
  assert.deepEqual(locked(true), ['- Lock: The host is locked by ops&lt;bot&gt;@runner-3 since 2026-11-30T10:00:00.000Z, whose apply is still running: an apply now waits for it.']);
  assert.deepEqual(locked(false), ['- Lock: The host is locked by ops&lt;bot&gt;@runner-3 since 2026-11-30T10:00:00.000Z, which is no longer running: an apply needs --break-lock.']);
  assert.deepEqual(renderPullRequestComment(report).split('\n').filter((l) => l.startsWith('- Lock: ')), []);
});

describe('the risk of merging, in the summary', () => {
  const risk = (services: typeof plan.services) => {
    const text = renderPullRequestComment({ ...report, plan: { state: 'planned', plan: { ...plan, services } } });
    return text.split('\n').filter((l) => l.startsWith('- Risk: ') || l.startsWith('- Approval: '));
  };
  const svc = (name: string, action: (typeof plan.services)[number]['action']) => ({ name, action, reason: 'inputs changed', enable: false });

  test('a proxy restart: one provider is unreachable for seconds; the apply waits for approval in the environment', () => {
    assert.deepEqual(risk([svc('kimi-proxy.service', 'restart'), svc('openclaw-gateway.service', 'no-op')]), [
      '- Risk: restarts `kimi-proxy`: kimi unreachable for a few seconds, the chain falling back past it.',
      "- Approval: merging starts the apply, which waits for a reviewer's approval in the GitHub environment `ec2` before it changes anything.",
    ]);
  });

  test('a hot reload drops nothing', () => {
    assert.equal(risk([svc('openclaw-gateway.service', 'reload')])[0], '- Risk: hot reload of `openclaw`: no connection is dropped.');
  });

  test('no change: no risk line', () => {
    const text = renderPullRequestComment({ ...report, plan: { state: 'planned', plan: { ...plan, files: plan.files.map((f) => ({ ...f, action: 'no-op' as const })), services: [] } } });
    assert.ok(!text.includes('- Risk:') && !text.includes('- Approval:'));
  });
});

test('validation problems: one list item each, so a long one wraps; URLs in them are code, not links', () => {
  const long = `config/providers/kimi.yaml:3:10: baseUrl: expected an https URL; found "http://127.0.0.1:18792/v1" ${'and a long explanation '.repeat(12)}`;
  const text = renderPullRequestComment({ ...report, problems: [long, 'config/secrets.yaml:2:3: names: *_bad_* is not UPPER_SNAKE'] });
  assert.ok(!text.includes('```'), 'no code block that scrolls sideways');
  assert.match(text, /^- config\/providers\/kimi\.yaml:3:10: baseUrl: expected an https URL; found "`http:\/\/127\.0\.0\.1:18792\/v1`" and a long/m);
  assert.match(text, /^- config\/secrets\.yaml:2:3: names: \\\*\\_bad\\_\\\* is not UPPER_SNAKE$/m);
});

test('a comment marked out of date that would grow past the limit keeps the earlier summary only', () => {
  const long = renderPullRequestComment({ ...report, files: [{ path: '/srv/a.txt', action: 'create', reason: 'absent', sensitive: false, after: 'x\n'.repeat(40_000) }] }, { limit: Infinity });
  const body = long.slice(0, COMMENT_LIMIT);
  const stale = markPlanCommentStale(body, { environment: 'ec2', reason: 'boom\nstack line', revision: 'abcdef1234567890' });
  assert.ok(stale.length <= COMMENT_LIMIT);
  assert.ok(stale.startsWith('<!-- clawops:plan:ec2 -->\n> [!WARNING]\n> **This plan is out of date.** The plan for `abcdef123456` failed before it could replace it: boom. '));
  assert.ok(stale.includes('**Plan: 0 to add, 3 to change, 0 to destroy; restarts: gemini-proxy, openclaw-gateway**') && !stale.includes('### '));
});

test('the comment lists the audit warnings the environment accepts, with their reasons, whether or not the host was planned', () => {
  const accepted = [{ check: 'models.weak_tier', reason: 'step 8 of 11; no *host* tools' }];
  for (const plan of [report.plan, { state: 'skipped' as const, reason: 'a fork has no secrets' }]) {
    const summary = renderPullRequestSummary({ ...report, plan, accepted });
    assert.match(summary, /^- Accepted audit warning `models\.weak_tier` \(`config\/environments\/ec2\.yaml` security\.accept\): step 8 of 11; no \\\*host\\\* tools$/m);
  }
  assert.doesNotMatch(renderPullRequestSummary(report), /Accepted audit warning/);
});
