import assert from 'node:assert/strict';
import { test } from 'node:test';
import { semanticDiff, summarize } from '../../src/plan/summary.js';
import { repoConfig } from '../support/repo.js';

const config = await repoConfig();

test('a chain step moved, one removed, one added: each said once, in chain terms', () => {
  const before = summarize(config, 'ec2');
  const after = structuredClone(before);
  // Move cerebras from step 3 to step 1, drop the last step, add a new one at the end.
  after.chain = ['cerebras/llama-3.3-70b', ...before.chain.filter((r) => r !== 'cerebras/llama-3.3-70b').slice(0, -1), 'groq/llama-3.3-70b-versatile-2'];
  assert.deepEqual(
    semanticDiff(before, after).map((c) => c.text),
    [
      'primary model: deepseek/deepseek-chat → cerebras/llama-3.3-70b',
      'chain step 11 removed: gemini/gemini-2.5-flash-lite',
      'chain step 11 added: groq/llama-3.3-70b-versatile-2',
      'chain step moved: cerebras/llama-3.3-70b from step 3 to step 1',
      'chain step moved: deepseek/deepseek-chat from step 1 to step 2',
      'chain step moved: kimi/kimi-k2.5 from step 2 to step 3',
    ],
  );
});

test('an insertion above a step does not count as moving it', () => {
  const before = summarize(config, 'ec2');
  const after = structuredClone(before);
  after.chain.splice(1, 0, 'groq/new-model');
  assert.deepEqual(semanticDiff(before, after).map((c) => c.text), ['chain step 2 added: groq/new-model']);
});

test('provider URL, models and agent model changes', () => {
  const before = summarize(config, 'ec2');
  const moved = structuredClone(config);
  moved.providers.find((p) => p.id === 'groq')!.baseUrl = 'https://api.groq.example/v2';
  moved.providers.find((p) => p.id === 'gemini')!.models.push({ id: 'gemini-3-pro', name: 'Gemini 3 Pro', contextWindow: 1, maxTokens: 1 });
  moved.deployment.agents.entries.scribe!.model = 'groq/llama-3.3-70b-versatile';
  assert.deepEqual(
    semanticDiff(before, summarize(moved, 'ec2')).map((c) => c.text),
    [
      'model added: gemini/gemini-3-pro',
      'groq base URL: https://api.groq.com/openai/v1 → https://api.groq.example/v2',
      'agent scribe model: (chain primary) → groq/llama-3.3-70b-versatile',
    ],
  );
});

test('the first apply has nothing to compare with', () => {
  assert.deepEqual(semanticDiff(null, summarize(config, 'ec2')), []);
});
