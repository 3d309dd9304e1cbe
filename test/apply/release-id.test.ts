/** Release ids follow the host's history: unique, and each after the ones before it, whatever the runner's clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseId } from '../../src/apply/layout.js';

const at = (iso: string) => new Date(iso);

test('on a host with no releases, the id is the runner\'s time and the revision', () => {
  assert.equal(releaseId(at('2026-11-30T10:00:00.700Z'), 'abc1234'), '20261130T100000Z-abc1234');
  assert.equal(releaseId(at('2026-11-30T10:00:00Z'), 'feat/x!'), '20261130T100000Z-featx');
});

test('a runner clock 10 minutes slow still sorts after the newest release on the host', () => {
  const kept = ['20261130T095000Z-aaa', '20261130T100000Z-bbb'];
  const id = releaseId(at('2026-11-30T09:50:30Z'), 'ccc', kept);
  assert.equal(id, '20261130T100001Z-ccc');
  assert.deepEqual([...kept, id].sort().at(-1), id);
});

test('two applies within one second get two ids, in order', () => {
  const first = releaseId(at('2026-11-30T10:00:00.100Z'), 'same');
  const second = releaseId(at('2026-11-30T10:00:00.900Z'), 'same', [first]);
  assert.notEqual(first, second);
  assert.ok(second > first);
});

test('a later clock is taken as it is; ids not in the stamp form are passed over', () => {
  assert.equal(releaseId(at('2026-12-01T00:00:00Z'), 'r', ['20261130T100000Z-a', 'by-hand']), '20261201T000000Z-r');
});
