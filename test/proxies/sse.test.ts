import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../../src/proxies/sse.js';

test('events split at any byte boundary parse the same as whole ones', () => {
  const wire = ': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata:no-space\r\rdata: [DONE]\n\n';
  const whole = new SseParser().push(wire);
  assert.deepEqual(whole, [{ data: '{"a":1}' }, { event: 'x', data: 'line1\nline2' }, { data: 'no-space' }, { data: '[DONE]' }]);
  for (let cut = 1; cut < wire.length; cut++) {
    const p = new SseParser();
    const events = [...p.push(wire.slice(0, cut)), ...p.push(wire.slice(cut)), ...p.end()];
    assert.deepEqual(events, whole, `split at ${cut}`);
  }
});

test('a last event without its blank line is flushed at the end; comments never become events', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': ping\n\n: ping\n\ndata: tail'), []);
  assert.deepEqual(p.end(), [{ data: 'tail' }]);
});
