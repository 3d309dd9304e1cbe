/**
 * The event stream the bridge sends to browsers for one chat run, in two forms:
 *
 * - v2 (the client asks with `?v=2`): a small vocabulary of its own. `start`, then `delta` with
 *   only the new text (gathered by `DeltaBuffer`), then `done` with the model that answered and
 *   the usage (and the final text when the deltas did not build it), or `error` with the text so
 *   far. Nothing of the gateway's internals passes through, so the bytes and the bridge's work
 *   grow with the reply, not with its square: each character is sent once.
 * - v1 (the default for now): the gateway's own `agent` and `chat` events as they come, each with
 *   the whole reply so far, then `done`. Kept for clients that do not ask for v2; see the README
 *   for when it goes away.
 *
 * Pure: gateway events in, browser events out. The v2 schema is events.ts; `encodeEvent` is its one
 * encoder. The handler owns the socket, the clock and when to send.
 */
import { DELTA_MAX_CHARS, type DeltaData, type DoneData, type ModelRef, type StreamEvent } from './events.ts';
import { BridgeError } from './http.ts';
import { belongsTo, chatTerminalState, fallbackStepOf, messageText, modelOf, type ChatTerminalState, type EventFrame, type FallbackStep } from './protocol.ts';
import { sseEvent } from './sse.ts';

export type StreamVersion = 1 | 2;
export const STREAM_VERSIONS: readonly StreamVersion[] = [1, 2];

/** Any event of either form: v1's `agent` and `chat` carry the gateway's payloads. */
export type WireEvent = StreamEvent | { event: 'agent' | 'chat'; data: Record<string, unknown> } | { event: 'done' | 'error'; data: Record<string, unknown> };

/** The one encoder: one server-sent event per stream event. */
export const encodeEvent = (e: WireEvent): Uint8Array => sseEvent(e.event, e.data);

/** The form a request asks for: `?v=2`; no `v`, or `v=1`, is today's form. */
export function streamVersion(query: URLSearchParams): StreamVersion {
  const v = query.get('v');
  if (v === null || v === '1') return 1;
  if (v === '2') return 2;
  throw new BridgeError(400, 'invalid_request', `v: expected one of ${STREAM_VERSIONS.join(', ')} (the event stream's form)`);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * One chat run as the browser sees it: feed it the gateway's events, send what it returns. It
 * keeps what `done` and `error` need (the model, the fallback steps, the output tokens and the
 * latest reply snapshot, by reference), so a v2 event costs work in proportion to its new text.
 */
export class ChatProjection {
  model: ModelRef | null = null;
  readonly fallbacks: FallbackStep[] = [];
  private outputTokens: number | null = null;
  /** The latest `chat` payload that carried the reply so far; its text is read only when needed. */
  private snapshot: Record<string, unknown> | null = null;
  /** The reply as the v2 deltas produced so far build it (V8 joins such strings without copying). */
  private built = '';
  /** Set once `done` or `error` has been produced. */
  ended = false;
  /** How the run ended, once `done` has been produced. */
  state: ChatTerminalState | null = null;

  constructor(
    readonly version: StreamVersion,
    private runId: string,
    /** The gateway's session key, to pick this run's events out of the socket. */
    private readonly sessionKey: string,
    /** The label the client sent, which is all it ever sees of the session key. */
    private readonly label: string,
    /** Removes secret values from text that came from the gateway. */
    private readonly safe: (text: string) => string,
  ) {}

  /** Nothing of the reply has arrived yet: no text, no snapshot. */
  get silent(): boolean {
    return this.snapshot === null && this.built === '';
  }

  /** The message went again as run `runId` (the first was turned away): its events are this run's from now on. */
  rerun(runId: string): void {
    this.runId = runId;
  }

  start(): WireEvent {
    return { event: 'start', data: { runId: this.runId, sessionKey: this.label } };
  }

  /** The events to send for one gateway event; none for another run's or an ignored event. */
  accept(e: EventFrame): WireEvent[] {
    if (this.ended || (e.event !== 'agent' && e.event !== 'chat') || !belongsTo(e.payload, this.sessionKey, this.runId)) return [];
    const p = e.payload;
    const m = modelOf(p);
    if (m) this.model = m;
    // The gateway repeats a step when the run ends; each step is reported once.
    const step = fallbackStepOf(p);
    if (step && !this.fallbacks.some((f) => f.from === step.from && f.to === step.to)) this.fallbacks.push(step);
    if (p.stream === 'usage' && typeof (p.data as Record<string, unknown> | undefined)?.outputTokens === 'number') {
      this.outputTokens = (p.data as { outputTokens: number }).outputTokens;
    }
    const out: WireEvent[] = [];
    if (this.version === 1) out.push({ event: e.event, data: { ...p, sessionKey: this.label } });
    const state = e.event === 'chat' ? chatTerminalState(p) : null;
    if (e.event === 'chat' && p.state === 'delta') {
      if (p.message !== undefined) this.snapshot = p;
      if (this.version === 2) {
        const d = this.delta(p);
        if (d) out.push({ event: 'delta', data: d });
      }
    }
    if (state) {
      this.ended = true;
      this.state = state;
      out.push(this.done(state, p));
    }
    return out;
  }

  /** The stream ends early (the deadline, the gateway gone): the last event, with the text so far. */
  cut(code: string, message: string): WireEvent {
    this.ended = true;
    if (this.version === 1) return { event: 'error', data: { code, message } };
    return { event: 'error', data: { code, message, text: this.snapshot ? messageText(this.snapshot) : '' } };
  }

  /**
   * A chat delta's new text: protocol v4 carries it as `deltaText`, with `replace: true` when it
   * replaces the reply so far rather than extending it (OpenClaw's docs/gateway/protocol/
   * rpc-bootstrap-and-events.md, "Common event families"). A delta without it adds nothing here;
   * `done` then carries the whole reply.
   */
  private delta(p: Record<string, unknown>): DeltaData | null {
    const text = str(p.deltaText);
    if (text === undefined) return null;
    if (p.replace === true) {
      this.built = text;
      return { text, replace: true };
    }
    if (text === '') return null;
    this.built += text;
    return { text };
  }

  private done(state: ChatTerminalState, p: Record<string, unknown>): WireEvent {
    const error = str(p.errorMessage);
    // A run that ends without a message of its own (stopped, failed) keeps the text it streamed.
    const text = messageText(p) || (this.snapshot ? messageText(this.snapshot) : '');
    if (this.version === 1) {
      return { event: 'done', data: { state, runId: this.runId, text: messageText(p), model: this.model, fallbacks: this.fallbacks, ...(error ? { error: this.safe(error) } : {}) } };
    }
    const data: DoneData = {
      state,
      // Sent again only when the deltas did not build it: otherwise each character would cross twice.
      ...(text === this.built ? {} : { text }),
      model: this.model,
      usage: this.outputTokens === null ? null : { outputTokens: this.outputTokens },
      fallbacks: this.fallbacks,
      ...(error ? { error: this.safe(error) } : {}),
    };
    return { event: 'done', data };
  }
}

/**
 * The v2 deltas not sent yet, as one: appended text joins the text before it, a replacement drops
 * it. The handler sends it when DELTA_WINDOW_MS has passed since it began, when it reaches
 * DELTA_MAX_CHARS, and before any other event, so order and content are what the gateway sent.
 */
export class DeltaBuffer {
  private pending: DeltaData | null = null;

  /** Adds a delta; true when the buffer is full enough to send now. */
  add(d: DeltaData): boolean {
    this.pending = d.replace || !this.pending ? { ...d } : { ...this.pending, text: this.pending.text + d.text };
    return this.pending.text.length >= DELTA_MAX_CHARS;
  }

  /** The one delta to send for everything added since the last take, or null. */
  take(): WireEvent | null {
    const d = this.pending;
    this.pending = null;
    return d && { event: 'delta', data: d };
  }
}
