/**
 * The real OpenClaw (pinned in tools/package.json, installed by scripts/tools.sh) judges what
 * clawops renders. These tests fail, never skip, when OpenClaw is not installed.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import { render } from '../../src/render/render.js';
import { generateOpenclawTypes, openclawSchema, TYPES_FILE } from '../../scripts/gen-openclaw-types.js';
import { openclawValidate } from '../support/openclaw.js';
import { edit, FIXED_CONTEXT, repoConfig, repoFiles } from '../support/repo.js';

const config = await repoConfig();
const openclawJson = (c: typeof config, env: string) => render(c, env, FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content;

describe('the real OpenClaw accepts what clawops renders', () => {
  for (const env of config.environments.map((e) => e.name)) {
    test(`openclaw config validate: ${env}`, async () => {
      const verdict = await openclawValidate(openclawJson(config, env));
      assert.equal(verdict.valid, true, JSON.stringify(verdict.issues, null, 2));
    });
  }

  test('and rejects what it should: the oracle is not a rubber stamp', async () => {
    const broken = openclawJson(config, 'local').replace('"bind": "loopback"', '"bind": "127.0.0.1"');
    const verdict = await openclawValidate(broken);
    assert.equal(verdict.valid, false);
    assert.ok(verdict.issues?.some((i) => i.path === 'gateway.bind'), JSON.stringify(verdict.issues));
  });
});

test('clawops catches a fallback that no provider declares, which OpenClaw lets through', async () => {
  const chain = 'config/fallback-chain.yaml';
  const files = edit(await repoFiles(), chain, (t) => t.replace('  - gemini/gemini-2.5-flash-lite', '  - gemini/gemini-3-ultra'));
  const ours = loadConfig(files);
  assert.equal(ours.ok, false);
  assert.deepEqual(ours.problems.map(formatProblem), [
    'config/fallback-chain.yaml:15:5: chain[10]: "gemini/gemini-3-ultra": provider gemini declares no model "gemini-3-ultra" (it declares: gemini-2.5-flash, gemini-2.5-flash-lite)',
  ]);

  const slipped = { ...config, chain: [...config.chain.slice(0, -1), 'gemini/gemini-3-ultra'] };
  const verdict = await openclawValidate(openclawJson(slipped, 'ec2'));
  assert.equal(verdict.valid, true, 'OpenClaw accepts the dangling fallback');
  assert.match(openclawJson(slipped, 'ec2'), /gemini\/gemini-3-ultra/);
});

test("the renderer's types match the pinned OpenClaw's published schema (npx tsx scripts/gen-openclaw-types.ts)", async () => {
  assert.equal(await readFile(TYPES_FILE, 'utf8'), await generateOpenclawTypes(openclawSchema()));
});
