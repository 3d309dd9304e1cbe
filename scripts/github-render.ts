/**
 * A comment rendered the way GitHub renders it, for eyes and for tests: the markdown through
 * cmark-gfm (GitHub's own markdown library) with GitHub's extensions, in a 780-px comment column
 * with GitHub's light or dark colours, and each mermaid block drawn by mermaid itself, in Chromium.
 *
 * Needs, beside package.json's mermaid and playwright-core, Debian's packages:
 *   apt-get install -y --no-install-recommends cmark-gfm chromium fonts-liberation
 * Nothing is fetched at run time: mermaid is loaded into the page from node_modules.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

// The page's own globals, in the functions handed to the browser (this project's lib has no DOM).
declare const document: any;
declare const window: any;

export type Theme = 'light' | 'dark';

export const APT_LINE = 'apt-get install -y --no-install-recommends cmark-gfm chromium fonts-liberation';

/** The width of a comment's body on a pull request's conversation page. */
export const COLUMN_WIDTH = 780;

/**
 * Markdown to HTML as GitHub does for a comment: GFM's extensions (tables, strikethrough,
 * autolinks, and tagfilter for the raw HTML it lets through), newlines kept as line breaks (comments
 * treat them so), code blocks as <pre lang> (how GitHub finds mermaid blocks).
 */
export function markdownToHtml(markdown: string): string {
  const args = ['--unsafe', '--hardbreaks', '--github-pre-lang', ...['table', 'strikethrough', 'autolink', 'tagfilter'].flatMap((e) => ['--extension', e])];
  const r = spawnSync('cmark-gfm', args, { input: markdown, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`cmark-gfm cannot run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): ${APT_LINE}`);
  if (r.status !== 0) throw new Error(`cmark-gfm failed (exit ${r.status}): ${r.stderr.trim()}`);
  return alerts(r.stdout);
}

/** GitHub's alerts (`> [!NOTE]`), which it draws from a blockquote after the markdown is rendered. */
function alerts(html: string): string {
  return html.replace(/<blockquote>\n<p>\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\](?:<br \/>\n|\n)?/g, (_m, kind: string) => {
    const title = kind[0] + kind.slice(1).toLowerCase();
    return `<div class="alert alert-${kind.toLowerCase()}"><p class="alert-title">${title}</p>\n<p>`;
  }).replace(/(<div class="alert[^]*?)<\/blockquote>/g, '$1</div>');
}

// GitHub's colours (Primer's light and dark themes) for what a comment uses.
const COLOURS: Record<Theme, Record<string, string>> = {
  light: { bg: '#ffffff', fg: '#1f2328', muted: '#59636e', border: '#d1d9e0', subtle: '#f6f8fa', link: '#0969da', code: 'rgba(129,139,152,0.12)', note: '#0969da', warning: '#9a6700' },
  dark: { bg: '#0d1117', fg: '#f0f6fc', muted: '#9198a1', border: '#3d444d', subtle: '#151b23', link: '#4493f8', code: 'rgba(101,108,118,0.2)', note: '#4493f8', warning: '#d29922' },
};

/** The comment's HTML in a page: the column, GitHub's markdown styles in the theme's colours. */
export function commentPage(bodyHtml: string, theme: Theme): string {
  const c = COLOURS[theme];
  return `<!doctype html>
<html data-color-mode="${theme}"><head><meta charset="utf-8"><style>
  html, body { margin: 0; background: ${c.bg}; color: ${c.fg}; }
  body { padding: 16px; font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
  .comment { width: ${COLUMN_WIDTH}px; box-sizing: border-box; border: 1px solid ${c.border}; border-radius: 6px; }
  .markdown-body { padding: 16px; word-wrap: break-word; overflow-wrap: break-word; }
  .markdown-body > :first-child { margin-top: 0 !important; }
  .markdown-body > :last-child { margin-bottom: 0 !important; }
  h2, h3 { margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
  h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid ${c.border}; }
  h3 { font-size: 1.25em; }
  p, ul, ol, table, pre, details, .alert, .mermaid-frame { margin: 0 0 16px; }
  ul { padding-left: 2em; }
  a { color: ${c.link}; text-decoration: underline; text-underline-offset: .2rem; }
  code, pre { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 85%; }
  code { padding: .2em .4em; border-radius: 6px; background: ${c.code}; white-space: break-spaces; }
  pre { padding: 16px; overflow: auto; line-height: 1.45; background: ${c.subtle}; border-radius: 6px; }
  pre code { padding: 0; background: transparent; white-space: pre; font-size: 100%; }
  table { border-spacing: 0; border-collapse: collapse; display: block; width: max-content; max-width: 100%; overflow: auto; }
  th, td { padding: 6px 13px; border: 1px solid ${c.border}; }
  th { font-weight: 600; }
  tr:nth-child(2n) { background: ${c.subtle}; }
  summary { cursor: pointer; }
  sub { font-size: 75%; }
  .alert { padding: .5rem 1rem; border-left: .25em solid ${c.note}; }
  .alert-warning, .alert-caution { border-left-color: ${c.warning}; }
  .alert-title { font-weight: 500; color: ${c.note}; margin: 0 0 4px; }
  .alert-warning .alert-title, .alert-caution .alert-title { color: ${c.warning}; }
  .alert > :last-child { margin-bottom: 0; }
  /* GitHub draws a mermaid block in a frame as wide as the column: a wider diagram is scaled down to fit. */
  .mermaid-frame { width: 100%; }
</style></head>
<body><div class="comment"><div class="markdown-body">
${bodyHtml}
</div></div></body></html>`;
}

/** Chromium from Debian, headless, with nothing that reaches the network. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: ${APT_LINE}`);
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const MERMAID = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');

/**
 * A page showing the comment as GitHub would: its markdown rendered, then each mermaid block drawn
 * by mermaid in the theme GitHub gives it (mermaid's "default" on light, "dark" on dark).
 */
export async function renderComment(browser: Browser, markdown: string, theme: Theme): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: COLUMN_WIDTH + 32, height: 600 }, colorScheme: theme });
  await page.setContent(commentPage(markdownToHtml(markdown), theme));
  // tsx keeps function names with a helper, __name, that functions handed to the page still call.
  await page.evaluate('globalThis.__name = (f) => f');
  await page.addScriptTag({ path: MERMAID });
  const failures: string[] = await page.evaluate(async (mermaidTheme: string) => {
    const mermaid = window.mermaid;
    mermaid.initialize({ startOnLoad: false, theme: mermaidTheme, securityLevel: 'strict' });
    const out: string[] = [];
    let n = 0;
    for (const pre of [...document.querySelectorAll('pre[lang="mermaid"]')]) {
      const frame = document.createElement('div');
      frame.className = 'mermaid-frame';
      try {
        frame.innerHTML = (await mermaid.render(`mermaid-${n++}`, pre.textContent)).svg;
      } catch (e: any) {
        out.push(String(e?.message ?? e));
        continue;
      }
      pre.replaceWith(frame);
    }
    return out;
  }, theme === 'dark' ? 'dark' : 'default');
  if (failures.length) throw new Error(`mermaid could not draw a diagram: ${failures.join('; ')}`);
  return page;
}

/** A screenshot of the whole comment. */
export async function screenshot(page: Page, path: string): Promise<void> {
  await page.locator('.comment').screenshot({ path });
}

/** Renders markdown in both themes and writes <out>/<name>-light.png and -dark.png. */
export async function screenshots(markdown: string, out: string, name: string): Promise<string[]> {
  const browser = await launchChromium();
  try {
    const paths: string[] = [];
    for (const theme of ['light', 'dark'] as const) {
      const page = await renderComment(browser, markdown, theme);
      const path = join(out, `${name}-${theme}.png`);
      await screenshot(page, path);
      await page.close();
      paths.push(path);
    }
    return paths;
  } finally {
    await browser.close();
  }
}
