import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchSizes, exceeds, rollout, type HostOutcome } from '../../src/apply/rollout.js';
import { ApplyError } from '../../src/apply/errors.js';
import { renderRolloutMarkdown, renderRolloutText } from '../../src/report/rollout.js';

/** A recording fake of one host's apply: which hosts ran, which ran at the same time, and what each came to. */
function recorder(fail: Record<string, 'rolled-back' | 'throw'> = {}) {
  const calls: string[] = [];
  const running = new Set<string>();
  const together: string[][] = [];
  const applyOne = async (host: string): Promise<HostOutcome> => {
    calls.push(host);
    running.add(host);
    together.push([...running].sort());
    await new Promise((r) => setImmediate(r));
    running.delete(host);
    if (fail[host] === 'throw') throw new ApplyError(`ubuntu@${host}:22`, 'lock', 'locked by someone since then; try again when it finishes');
    if (fail[host] === 'rolled-back') return { host, status: 'rolled-back', release: 'r2', step: 'activate', cause: 'gate failed mistral-proxy.service', on: 'its previous release r1' };
    return { host, status: 'applied', release: 'r2', on: 'release r2' };
  };
  return { calls, together, applyOne };
}

describe('batch sizes', () => {
  test('a count splits the fleet into batches of that many, the last one what is left', () => {
    assert.deepEqual(batchSizes(5, 2), [2, 2, 1]);
    assert.deepEqual(batchSizes(3, 1), [1, 1, 1]);
    assert.deepEqual(batchSizes(3, 10), [3]);
  });

  test('a percentage of the fleet is rounded down, and is at least one host (as Ansible serial)', () => {
    assert.deepEqual(batchSizes(3, '34%'), [1, 1, 1]);
    assert.deepEqual(batchSizes(3, '67%'), [2, 1]);
    assert.deepEqual(batchSizes(10, '25%'), [2, 2, 2, 2, 2]);
    assert.deepEqual(batchSizes(3, '10%'), [1, 1, 1]);
    assert.deepEqual(batchSizes(4, '100%'), [4]);
  });

  test('the threshold must be exceeded, not met', () => {
    assert.equal(exceeds(1, 2, 50), false);
    assert.equal(exceeds(2, 3, 50), true);
    assert.equal(exceeds(1, 10, 0), true);
    assert.equal(exceeds(0, 3, 0), false);
  });
});

describe('the rollout loop', () => {
  test('hosts of a batch run at the same time, and batches one after the other', async () => {
    const r = recorder();
    const result = await rollout(['a', 'b', 'c', 'd', 'e'], { batch: 2, maxFailPercentage: 0 }, r.applyOne);
    assert.deepEqual(result.batches, [['a', 'b'], ['c', 'd'], ['e']]);
    assert.deepEqual(r.calls, ['a', 'b', 'c', 'd', 'e']);
    assert.ok(r.together.some((t) => t.join() === 'a,b'), 'a and b ran together');
    assert.ok(!r.together.some((t) => t.includes('b') && t.includes('c')), 'c waited for the batch before');
    assert.ok(result.hosts.every((h) => h.status === 'applied'));
    assert.equal(result.stopped, undefined);
  });

  test('with batch 1 and the second host failing, the third is never touched', async () => {
    const r = recorder({ b: 'rolled-back' });
    const result = await rollout(['a', 'b', 'c'], { batch: 1, maxFailPercentage: 0 }, r.applyOne);
    assert.deepEqual(r.calls, ['a', 'b']);
    assert.deepEqual(result.hosts.map((h) => h.status), ['applied', 'rolled-back', 'not-started']);
    assert.deepEqual(result.stopped, { batch: 1, failed: 1, size: 1, reason: 'failures' });
  });

  test('a failure within the allowed share lets the rollout go on', async () => {
    const r = recorder({ b: 'rolled-back' });
    const result = await rollout(['a', 'b', 'c', 'd'], { batch: 2, maxFailPercentage: 50 }, r.applyOne);
    assert.deepEqual(r.calls, ['a', 'b', 'c', 'd']);
    assert.equal(result.stopped, undefined);
    assert.deepEqual(result.hosts.map((h) => h.status), ['applied', 'rolled-back', 'applied', 'applied']);
  });

  test('more failures than the share stops the rollout after that batch', async () => {
    const r = recorder({ a: 'throw', b: 'rolled-back' });
    const result = await rollout(['a', 'b', 'c', 'd'], { batch: '50%', maxFailPercentage: 50 }, r.applyOne);
    assert.deepEqual(r.calls, ['a', 'b']);
    assert.deepEqual(result.hosts.map((h) => h.status), ['failed', 'rolled-back', 'not-started', 'not-started']);
    // A host whose apply threw is a failure at the step its error names, still on what it ran.
    assert.deepEqual(result.hosts[0], { host: 'a', status: 'failed', step: 'lock', cause: 'locked by someone since then; try again when it finishes', on: 'what it ran before (unchanged)' });
  });

  test('an interruption starts no further batch', async () => {
    const stop = new AbortController();
    const r = recorder();
    const result = await rollout(['a', 'b', 'c'], { batch: 1, maxFailPercentage: 0 }, async (h) => {
      const o = await r.applyOne(h);
      stop.abort();
      return o;
    }, { signal: stop.signal });
    assert.deepEqual(r.calls, ['a']);
    assert.equal(result.stopped?.reason, 'interrupted');
  });

  test('the report names each host\'s outcome and what it runs now', async () => {
    const result = await rollout(['a', 'b', 'c'], { batch: 1, maxFailPercentage: 0 }, recorder({ b: 'rolled-back' }).applyOne);
    const text = renderRolloutText('prod', 'abc123', result, (h) => `ubuntu@${h}:22`);
    assert.match(text, /^ {2}✔ a {2}applied release r2 {2}\(ubuntu@a:22\)$/m);
    assert.match(text, /^ {2}✘ b {2}failed at activate: gate failed mistral-proxy\.service; rolled back, on its previous release r1/m);
    assert.match(text, /^ {2}- c {2}not started: on what it ran before \(never started\)/m);
    assert.match(text, /^Rollout stopped: 1 of 1 host in batch 2 failed \(more than 0%\); 1 host not started, left on what they ran\.$/m);
    const md = renderRolloutMarkdown('prod', 'abc123', result);
    assert.match(md, /❌ rollout stopped/);
    assert.match(md, /^\| `c` \| ⏸ not started \| what it ran before \(never started\) \|$/m);
  });
});
