// The suite's runner (scripts/run-tests.ts): per-file durations, the closing count, and the budget
// that stops a run going over it, with the durations printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/repo.js';

const fixture = (name: string) => `test/scripts/fixtures/${name}.ts`;

async function runner(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/run-tests.ts', ...args], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

describe('the test runner', () => {
  it('prints each file with its duration, longest first, the total and one closing count line', async () => {
    const run = await runner(['--budget', '600', fixture('passes'), fixture('fails')]);
    assert.equal(run.code, 1, 'a failing test fails the run');
    assert.match(run.stdout, /^──── test\/scripts\/fixtures\/fails\.ts: FAILED \(exit 1\) in [\d.]+ s ────$/m);
    assert.match(run.stdout, /^──── test\/scripts\/fixtures\/passes\.ts: ok in [\d.]+ s ────$/m);
    const table = run.stdout.slice(run.stdout.indexOf('== durations'));
    assert.match(table, /^\s+[\d.]+ s {2}test\/scripts\/fixtures\/fails\.ts {2}FAILED$/m);
    assert.match(table, /^\s+[\d.]+ s {2}total \(wall clock, 2 at a time; [\d.]+ s of files\), budget 600 s$/m);
    assert.match(run.stdout, /^2 passed, 1 failed, 1 skipped$/m);
  });

  it('passes when every file passes', async () => {
    const run = await runner(['--budget', '600', fixture('passes')]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^1 passed, 0 failed, 1 skipped$/m);
  });

  it('stops a run that goes over its budget and fails it with the durations', async () => {
    const run = await runner(['--budget', '1', fixture('hangs'), fixture('passes')]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /the budget of 1 s is used up: stopping test\/scripts\/fixtures\/hangs\.ts/);
    assert.match(run.stdout, /^\s+[\d.]+ s {2}test\/scripts\/fixtures\/hangs\.ts {2}stopped over budget$/m);
    assert.match(run.stdout, /^The suite went over its budget of 1 s: the durations above say where the time went\.$/m);
  });
});
