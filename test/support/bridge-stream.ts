/**
 * The decoder of the bridge's v2 event stream (schema: supabase/functions/openclaw-bridge/events.ts), as
 * strict as a client may rely on: every event is one of the vocabulary, with exactly its documented
 * fields and their types. Anything else, a gateway field passing through included, throws, naming the
 * event and the field.
 */
import type { StreamEvent } from '../../supabase/functions/openclaw-bridge/events.js';
import { parseSse } from './bridge-process.js';

type Check = (v: unknown) => boolean;
const string: Check = (v) => typeof v === 'string';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const exactly = (shape: Record<string, Check>, optional: Record<string, Check> = {}): Check => (v) =>
  isRecord(v) &&
  Object.entries(shape).every(([k, c]) => k in v && c(v[k])) &&
  Object.keys(v).every((k) => k in shape || (k in optional && optional[k]!(v[k])));
const model = (v: unknown) => v === null || exactly({ provider: string, model: string })(v);
const fallbacks = (v: unknown) => Array.isArray(v) && v.every(exactly({ from: string, to: string, reason: (r) => r === null || typeof r === 'string' }));
const usage = (v: unknown) => v === null || exactly({ outputTokens: (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 })(v);

const SCHEMA: Record<StreamEvent['event'], Check> = {
  start: exactly({ runId: string, sessionKey: string }),
  delta: exactly({ text: string }, { replace: (v) => v === true }),
  done: exactly({ state: (v) => v === 'final' || v === 'error' || v === 'aborted', model, usage, fallbacks }, { text: string, error: string }),
  error: exactly({ code: string, message: string, text: string }),
};

/** A whole v2 stream body as typed events; throws on anything outside the schema. */
export function decodeStream(body: string): StreamEvent[] {
  return parseSse(body).map(({ event, data }, i) => {
    const check = SCHEMA[event as StreamEvent['event']];
    if (!check) throw new Error(`event ${i} (${event}): not in the v2 vocabulary`);
    if (!check(data)) throw new Error(`event ${i} (${event}): fields outside the schema: ${JSON.stringify(data).slice(0, 300)}`);
    return { event, data } as StreamEvent;
  });
}

/** The reply as a client builds it from the deltas. */
export function replyFromDeltas(events: StreamEvent[]): string {
  let text = '';
  for (const e of events) if (e.event === 'delta') text = e.data.replace ? e.data.text : text + e.data.text;
  return text;
}

/** The reply as a client ends up with it: `done`'s text when it carries one, else the deltas'. */
export function finalReply(events: StreamEvent[]): string {
  const last = events.at(-1);
  return (last?.event === 'done' || last?.event === 'error' ? last.data.text : undefined) ?? replyFromDeltas(events);
}
