/**
 * Renders a pull-request comment the way GitHub shows it and takes screenshots, light and dark:
 *
 *   npx tsx scripts/render-comment.ts [plan.md] [--out DIR]
 *
 * plan.md is what `clawops pr-report --out` writes; without it, the comment for an example pull
 * request on this repository's config (its 11-step chain with steps moved, one added, one removed).
 * Writes DIR/<name>.html, DIR/<name>-light.png and DIR/<name>-dark.png (default DIR: out/comment).
 * Needs cmark-gfm and Chromium from Debian (see scripts/github-render.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderPullRequestComment } from '../src/report/markdown.js';
import { representativeReport } from '../test/support/pr-fixture.js';
import { commentPage, markdownToHtml, screenshots } from './github-render.js';

const { values, positionals } = parseArgs({ options: { out: { type: 'string', default: 'out/comment' } }, allowPositionals: true });
const [file] = positionals;
const markdown = file
  ? await readFile(file, 'utf8')
  : renderPullRequestComment((await representativeReport()).report, { runUrl: 'https://github.com/acme/claw/actions/runs/7' });
const name = file ? basename(file).replace(/\.md$/, '') : 'example';
await mkdir(values.out, { recursive: true });
await writeFile(join(values.out, `${name}.html`), commentPage(markdownToHtml(markdown), 'light'));
for (const path of await screenshots(markdown, values.out, name)) console.log(`wrote ${path}`);
