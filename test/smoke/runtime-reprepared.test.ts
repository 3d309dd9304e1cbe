/**
 * The smoke's fallback check asks again, and the bridge sends a web user's message again, when
 * OpenClaw answers that it was preparing the agent's model runtime again. Which answers those are is read from the pinned OpenClaw's own code: each
 * message it throws as PreparedModelRuntimeOwnerNotPublishedError or
 * PreparedModelRuntimePublicationSupersededError must match, except the one that names a config
 * fault, and a failure that is the run's own (a provider refusing, the gateway draining) must not.
 * The check asks again on such an answer only, a bounded number of times, pausing longer each time.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { OPENCLAW_ENTRY } from '../../scripts/tools.js';
import { RUNTIME_REPREPARED } from '../../supabase/functions/openclaw-bridge/protocol.js';
import { askWhileReprepared } from '../../src/smoke/smoke.js';

test('every "prepare again" answer of the pinned OpenClaw is asked again, and no other failure is', async () => {
  const dist = join(dirname(OPENCLAW_ENTRY), 'dist');
  const files = (await readdir(dist)).filter((f) => f.startsWith('prepared-model-runtime-') && f.endsWith('.mjs'));
  assert.ok(files.length > 0, `no prepared-model-runtime module in ${dist}`);
  const messages = new Set<string>();
  for (const f of files) {
    const code = await readFile(join(dist, f), 'utf8');
    for (const m of code.matchAll(/new PreparedModelRuntime(?:OwnerNotPublished|PublicationSuperseded)Error\((["`])(.*?)\1/g)) {
      // A template's placeholders stand for the agent's folder.
      messages.add(m[2]!.replace(/\$\{[^}]*\}/g, '/home/ubuntu/.openclaw/agents/smoke/agent'));
    }
  }
  assert.ok(messages.size >= 3, `found ${messages.size} messages: ${[...messages].join(' | ')}`);
  for (const m of messages) {
    // One message of those classes is the config's fault, not a moment's: asking again cannot help.
    if (/duplicate/.test(m)) assert.doesNotMatch(m, RUNTIME_REPREPARED);
    else assert.match(`Error: ${m}`, RUNTIME_REPREPARED);
  }
  for (const other of [
    'Gateway is draining; new tasks are not accepted',
    'All models failed (2): canary/canary-model: HTTP 401 unauthorized',
    'prepared model runtime snapshot missing after auth refresh for /home/ubuntu/.openclaw/agents/smoke/agent',
  ]) {
    assert.doesNotMatch(other, RUNTIME_REPREPARED);
  }
});

const REPREPARED = 'Error: prepared model runtime plugin generation was superseded for /home/ubuntu/.openclaw/agents/smoke/agent';

/** Attempts that fail with `answers` in turn (null: it answered), and the pauses taken between them. */
function scripted(answers: (string | null)[]) {
  const pauses: number[] = [];
  const attempt = async (n: number) => answers[Math.min(n, answers.length) - 1]!;
  return { attempt, pauses, pause: async (n: number) => void pauses.push(n) };
}

test('a run OpenClaw turned away while preparing the runtime is asked again, and the answer after it counts', async () => {
  const s = scripted([REPREPARED, null]);
  const { result, attempts } = await askWhileReprepared(s.attempt, (r) => r, { pause: s.pause });
  assert.deepEqual([result, attempts, s.pauses], [null, 2, [1]]);
});

test('asked at most three times in all; the last answer stands', async () => {
  const s = scripted([REPREPARED]);
  const { result, attempts } = await askWhileReprepared(s.attempt, (r) => r, { pause: s.pause });
  assert.deepEqual([result, attempts, s.pauses], [REPREPARED, 3, [1, 2]]);
});

test('any other failure, or one that cannot be told from the run before, is not asked again', async () => {
  const other = scripted(['All models failed (2): canary/canary-model: HTTP 401 unauthorized', null]);
  assert.equal((await askWhileReprepared(other.attempt, (r) => r, { pause: other.pause })).attempts, 1);
  // The same answer, but `failure` says the next run could not be told apart.
  const s = scripted([REPREPARED, null]);
  const { attempts } = await askWhileReprepared(s.attempt, () => null, { pause: s.pause });
  assert.deepEqual([attempts, s.pauses], [1, []]);
});
