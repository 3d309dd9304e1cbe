/**
 * The heartbeat verdict from what the gateway's `last-heartbeat` returns: null until the first
 * heartbeat, then the last event ({ts, status, reason?, message?}, OpenClaw's
 * src/infra/heartbeat-events.ts), with the gateway's uptime and the configured cadence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationMs, heartbeatVerdict } from '../../src/smoke/smoke.js';

const NOW = 1_800_000_000_000;
const min = 60_000;

test('durations as OpenClaw writes them', () => {
  assert.equal(durationMs('30m'), 30 * min);
  assert.equal(durationMs('1h30m'), 90 * min);
  assert.equal(durationMs('0m'), 0);
  assert.equal(durationMs('soon'), null);
  assert.equal(durationMs('30'), null);
});

const cases: { name: string; last: Record<string, unknown> | null; uptimeMs: number; every?: string; ok: boolean; detail: string }[] = [
  { name: 'a young gateway has had none yet', last: null, uptimeMs: 3 * min, ok: true, detail: 'none yet: the gateway started 3 min ago and beats every 30m' },
  { name: 'none after two cadences is a failure', last: null, uptimeMs: 61 * min, ok: false, detail: 'no heartbeat since the gateway started 61 min ago, though it beats every 30m' },
  { name: 'a recent one', last: { ts: NOW - 12 * min, status: 'ok-empty' }, uptimeMs: 5 * 60 * min, ok: true, detail: 'last heartbeat 12 min ago: ok-empty, every 30m' },
  {
    name: 'skipped for want of a delivery route still beats',
    last: { ts: NOW - 20 * min, status: 'skipped', reason: 'no-route' },
    uptimeMs: 5 * 60 * min,
    ok: true,
    detail: 'last heartbeat 20 min ago: skipped (no-route), every 30m',
  },
  { name: 'a failed one', last: { ts: NOW - 2 * min, status: 'failed', reason: 'model error' }, uptimeMs: 5 * 60 * min, ok: false, detail: 'the last heartbeat, 2 min ago, failed: model error' },
  { name: 'an overdue one', last: { ts: NOW - 95 * min, status: 'ok-token' }, uptimeMs: 5 * 60 * min, ok: false, detail: 'the last heartbeat was 95 min ago, though it beats every 30m' },
  { name: 'turned off', last: null, uptimeMs: 5 * 60 * min, every: '0m', ok: true, detail: 'heartbeats are turned off (every: 0m)' },
  { name: 'an unreadable cadence', last: null, uptimeMs: 0, every: 'often', ok: false, detail: 'the heartbeat cadence "often" is not a duration' },
];

for (const c of cases) {
  test(c.name, () => {
    assert.deepEqual(heartbeatVerdict({ last: c.last, uptimeMs: c.uptimeMs, every: c.every ?? '30m', now: NOW }), { ok: c.ok, detail: c.detail });
  });
}
