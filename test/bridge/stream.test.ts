/**
 * The v2 stream's projection, event by event: each character of the reply crosses once, in a
 * delta; `done` repeats the reply only when the deltas did not build it; deltas that arrive close
 * together go out as one. The module is the bridge's own (Deno) source, loaded as it is.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DELTA_MAX_CHARS, type DeltaData, type DoneData } from '../../supabase/functions/openclaw-bridge/events.js';
import { BRIDGE_DIR } from '../support/bridge-process.js';

type Out = { event: string; data: Record<string, unknown> };
interface StreamModule {
  ChatProjection: new (version: 1 | 2, runId: string, sessionKey: string, label: string, safe: (t: string) => string) => {
    accept(e: { event: string; payload: Record<string, unknown> }): Out[];
  };
  DeltaBuffer: new () => { add(d: DeltaData): boolean; take(): Out | null };
}
// Loaded by path: its imports end in .ts, as Deno wants them, which this project's tsc does not follow.
const { ChatProjection, DeltaBuffer } = (await import(pathToFileURL(join(BRIDGE_DIR, 'stream.ts')).href)) as StreamModule;

const SESSION = 'agent:main:web-1';
const chat = (payload: Record<string, unknown>) => ({ event: 'chat', payload: { sessionKey: SESSION, runId: 'r1', ...payload } });
const message = (text: string) => ({ role: 'assistant', content: [{ type: 'text', text }] });
const run = () => new ChatProjection(2, 'r1', SESSION, 'web', (t) => t);
const doneOf = (out: Out[]) => out.find((e) => e.event === 'done')!.data as unknown as DoneData;

test('a reply the deltas built: done does not send it again', () => {
  const p = run();
  const deltas = [...p.accept(chat({ state: 'delta', deltaText: 'Hello', message: message('Hello') })), ...p.accept(chat({ state: 'delta', deltaText: ', world', message: message('Hello, world') }))];
  assert.deepEqual(deltas, [{ event: 'delta', data: { text: 'Hello' } }, { event: 'delta', data: { text: ', world' } }]);
  const done = doneOf(p.accept(chat({ state: 'final', message: message('Hello, world') })));
  assert.equal(done.state, 'final');
  assert.equal('text' in done, false);
});

test('a replacement counts: what the deltas built is the replacement and what follows it', () => {
  const p = run();
  p.accept(chat({ state: 'delta', deltaText: 'draft', message: message('draft') }));
  p.accept(chat({ state: 'delta', deltaText: 'Final', replace: true, message: message('Final') }));
  p.accept(chat({ state: 'delta', deltaText: ' answer', message: message('Final answer') }));
  assert.equal('text' in doneOf(p.accept(chat({ state: 'final', message: message('Final answer') }))), false);
});

test('a final message unlike the deltas, or no delta text at all: done carries the whole reply', () => {
  const differs = run();
  differs.accept(chat({ state: 'delta', deltaText: 'Hel', message: message('Hel') }));
  assert.equal(doneOf(differs.accept(chat({ state: 'final', message: message('Hello, world') }))).text, 'Hello, world');

  const noDeltaText = run();
  assert.deepEqual(noDeltaText.accept(chat({ state: 'delta', message: message('Hello') })), []);
  assert.equal(doneOf(noDeltaText.accept(chat({ state: 'final', message: message('Hello') }))).text, 'Hello');
});

test('deltas close together go out as one; a replacement drops what it replaces; a full buffer asks to go now', () => {
  const b = new DeltaBuffer();
  assert.equal(b.take(), null);
  assert.equal(b.add({ text: 'a' }), false);
  b.add({ text: 'b' });
  assert.deepEqual(b.take(), { event: 'delta', data: { text: 'ab' } });
  assert.equal(b.take(), null, 'taken once');
  b.add({ text: 'old' });
  b.add({ text: 'new', replace: true });
  b.add({ text: '!' });
  assert.deepEqual(b.take(), { event: 'delta', data: { text: 'new!', replace: true } });
  assert.equal(b.add({ text: 'x'.repeat(DELTA_MAX_CHARS - 1) }), false);
  assert.equal(b.add({ text: 'y' }), true);
});
