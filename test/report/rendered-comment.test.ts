// The pull-request comment as a reader sees it on GitHub: the markdown through cmark-gfm, the chain
// diagram drawn by mermaid in real Chromium, in the 780-px comment column, light and dark.
// cmark-gfm and Chromium come from Debian (scripts/test.sh installs them): without them this fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { renderPullRequestComment, type PullRequestReport } from '../../src/report/markdown.js';
import { launchChromium, markdownToHtml, renderComment, type Theme } from '../../scripts/github-render.js';
import { representativeReport } from '../support/pr-fixture.js';

declare const document: any;
declare const getComputedStyle: any;

const { report } = await representativeReport();

/** WCAG's contrast ratio of two sRGB colours. */
function contrast(a: number[], b: number[]): number {
  const lum = (c: number[]) => {
    const [r, g, bl] = c.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

interface Step {
  text: string;
  top: number;
  bottom: number;
  /** The label's font size as drawn on the page, after the diagram is scaled to the column. */
  fontPx: number;
  fill: number[];
  textColour: number[];
  /** What is drawn behind the step: its chain's box, over the page. */
  behind: number[];
}

/** What a reader sees of the chain diagram: its width beside the column's, and every step. */
async function chainSeen(page: Page): Promise<{ width: number; column: number; steps: Step[]; clusters: Record<string, { top: number; bottom: number }> }> {
  return page.evaluate(() => {
    const rgba = (s: string): number[] => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return s === 'none' || s === 'transparent' ? [0, 0, 0, 0] : [NaN, NaN, NaN, 1];
      const v = m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number);
      return [v[0]!, v[1]!, v[2]!, v[3] ?? 1];
    };
    const over = (top: number[], below: number[]) => [0, 1, 2].map((i) => top[i]! * top[3]! + below[i]! * (1 - top[3]!));
    const shapeFill = (g: any) => rgba(getComputedStyle(g.querySelector('rect, path, polygon')).fill);
    const svg = document.querySelector('.mermaid-frame svg');
    const box = svg.getBoundingClientRect();
    const scale = box.width / svg.viewBox.baseVal.width;
    const body = document.querySelector('.markdown-body');
    const pad = parseFloat(getComputedStyle(body).paddingLeft) + parseFloat(getComputedStyle(body).paddingRight);
    const page = rgba(getComputedStyle(document.body).backgroundColor);
    const clusters: Record<string, { top: number; bottom: number; colour: number[] }> = {};
    const clusterOf: { g: any; colour: number[] }[] = [];
    for (const g of svg.querySelectorAll('g.cluster')) {
      const r = g.getBoundingClientRect();
      const colour = over(shapeFill(g), page);
      clusters[g.querySelector('.cluster-label, .nodeLabel, text')?.textContent?.trim() ?? '?'] = { top: r.top, bottom: r.bottom, colour };
      clusterOf.push({ g, colour });
    }
    const steps = [...svg.querySelectorAll('g.node')].map((g: any) => {
      const r = g.getBoundingClientRect();
      const label = g.querySelector('.nodeLabel') ?? g.querySelector('text');
      const inside = clusterOf.find((c) => {
        const cr = c.g.getBoundingClientRect();
        return r.top >= cr.top && r.bottom <= cr.bottom && r.left >= cr.left && r.right <= cr.right;
      });
      const behind = inside?.colour ?? page;
      return {
        text: label.textContent.trim(),
        top: r.top,
        bottom: r.bottom,
        fontPx: parseFloat(getComputedStyle(label).fontSize) * scale,
        fill: over(shapeFill(g), behind),
        textColour: rgba(getComputedStyle(label).color).slice(0, 3),
        behind,
      };
    });
    return { width: box.width, column: body.clientWidth - pad, steps, clusters };
  });
}

describe('the chain diagram as GitHub draws it in the comment column', () => {
  let browser: Browser;
  const seen: Partial<Record<Theme, Awaited<ReturnType<typeof chainSeen>>>> = {};
  // Model ids with a `#` where mermaid could read an entity into them (`#v2;`), or drop a `;` from one
  // (a line with "style", a colon and a `#`).
  const hashed: PullRequestReport = {
    ...report,
    semantic: [],
    chain: { before: report.chain.before, after: [...report.chain.after.slice(0, 9), 'openrouter/freestyle:v1#2', 'openrouter/acme/m#v2;x'] },
  };
  let hashedSteps: Step[] = [];

  before(async () => {
    browser = await launchChromium();
    for (const theme of ['light', 'dark'] as const) {
      const page = await renderComment(browser, renderPullRequestComment(report), theme);
      seen[theme] = await chainSeen(page);
      await page.close();
    }
    const page = await renderComment(browser, renderPullRequestComment(hashed), 'light');
    hashedSteps = (await chainSeen(page)).steps;
    await page.close();
  });
  after(() => browser?.close());

  test('it fits the column, its labels drawn at a legible size (11 px and more)', () => {
    for (const theme of ['light', 'dark'] as const) {
      const s = seen[theme]!;
      assert.equal(s.steps.length, 22, 'both chains, 11 steps each');
      assert.ok(s.width <= s.column + 0.5, `${theme}: ${s.width} px wide in a ${s.column} px column`);
      const smallest = Math.min(...s.steps.map((x) => x.fontPx));
      assert.ok(smallest >= 11, `${theme}: labels drawn ${smallest.toFixed(1)} px high`);
    }
  });

  test("the base branch's chain is above the pull request's", () => {
    const s = seen.light!;
    const beforeBox = s.clusters['before: main'];
    const afterBox = s.clusters['after: this pull request'];
    assert.ok(beforeBox && afterBox, `chains drawn: ${Object.keys(s.clusters).join(', ')}`);
    assert.ok(beforeBox.bottom <= afterBox.top, 'before, then after');
    const first = s.steps.find((x) => x.text.startsWith('1. deepseek/deepseek-chat'))!;
    const moved = s.steps.find((x) => x.text.startsWith('1. cerebras/llama-3.3-70b'))!;
    assert.ok(first.bottom <= moved.top);
    assert.equal(moved.text, '1. cerebras/llama-3.3-70b (was 3)', 'a moved step says where it was');
  });

  test('a moved step stands out from what is behind it, and its text from its fill, in both themes', () => {
    for (const theme of ['light', 'dark'] as const) {
      const moved = seen[theme]!.steps.find((x) => x.text.startsWith('1. cerebras/llama-3.3-70b'))!;
      const fill = contrast(moved.fill, moved.behind);
      assert.ok(fill >= 3, `${theme}: the moved step's fill against its background: ${fill.toFixed(2)}:1`);
      const text = contrast(moved.textColour, moved.fill);
      assert.ok(text >= 4.5, `${theme}: its text against its fill: ${text.toFixed(2)}:1`);
      const added = seen[theme]!.steps.find((x) => x.text.endsWith('(new)'))!;
      assert.ok(contrast(added.fill, added.behind) >= 3, `${theme}: an added step stands out too`);
    }
  });

  test('a # in a model id shows as #', () => {
    const shown = hashedSteps.map((x) => x.text).slice(-2);
    assert.deepEqual(shown, ['10. openrouter/freestyle:v1#2', '11. openrouter/acme/m#v2;x']);
  });
});

test('a loopback URL in the comment is not a link', () => {
  const withUrl: PullRequestReport = {
    ...report,
    semantic: [{ kind: 'provider-url-changed', text: 'gemini base URL: http://127.0.0.1:18790/v1 → http://localhost:18795/v1, by ubuntu@example.com' }],
  };
  const html = markdownToHtml(renderPullRequestComment(withUrl));
  const item = html.match(/<li>gemini base URL:.*<\/li>/)?.[0] ?? '';
  assert.ok(item.includes('127.0.0.1:18790') && item.includes('localhost:18795'), item);
  assert.ok(!item.includes('<a '), item);
});

test('a long validation problem wraps in the column: nothing scrolls sideways', async () => {
  const long = `config/providers/kimi.yaml:3:10: baseUrl: expected an https URL; found "http://127.0.0.1:18792/v1" ${'and a long explanation '.repeat(12)}`;
  const browser = await launchChromium();
  try {
    const page = await renderComment(browser, renderPullRequestComment({ ...report, problems: [long] }), 'light');
    const seen = await page.evaluate(() => {
      const body = document.querySelector('.markdown-body');
      const item = [...body.querySelectorAll('li')].find((li: any) => li.textContent.startsWith('config/providers/kimi.yaml'));
      return { scrolls: [...body.querySelectorAll('*')].some((e: any) => e.scrollWidth > e.clientWidth + 1), lines: item ? Math.round(item.getBoundingClientRect().height / parseFloat(getComputedStyle(item).lineHeight)) : 0 };
    });
    assert.equal(seen.scrolls, false);
    assert.ok(seen.lines >= 2, `the problem takes ${seen.lines} lines`);
  } finally {
    await browser.close();
  }
});
