/**
 * The v2 event stream the bridge sends to browsers for one chat run (`POST /openclaw/chat?v=2`):
 * the schema, documented in the README. Server-sent events, one JSON `data:` line each:
 *
 *   start  →  delta*  →  done | error
 *
 * No imports, so the bridge (Deno) and clawops's tests (Node) share this one copy.
 */

/** How long the bridge holds new text to send it in one delta, at most. */
export const DELTA_WINDOW_MS = 200;
/** How much new text makes a delta go out before its window ends. */
export const DELTA_MAX_CHARS = 1024;

export interface ModelRef {
  provider: string;
  model: string;
}

/** v2, `start`: the gateway accepted the message. `runId` is what the bridge's log records. */
export interface StartData {
  runId: string;
  /** The session label the client sent (default `main`). */
  sessionKey: string;
}

/**
 * v2, `delta`: new reply text to append; with `replace: true`, the whole reply so far is `text`.
 * The bridge gathers what arrives within DELTA_WINDOW_MS into one delta (or sends it as soon as it
 * reaches DELTA_MAX_CHARS), so a slowly streaming model does not cost an event per few characters.
 */
export interface DeltaData {
  text: string;
  replace?: true;
}

/** v2, `done`: the run ended; the last event of the stream. */
export interface DoneData {
  /** `final`: answered; `error`: the run failed (see `error`); `aborted`: stopped. */
  state: 'final' | 'error' | 'aborted';
  /**
   * The whole reply, only when it is not what the deltas built: the gateway's final message
   * differs from what it streamed, or it streamed no text. Absent, the deltas were the reply.
   */
  text?: string;
  /** The model that answered, or null when none was reported. */
  model: ModelRef | null;
  /** Tokens the run's model calls produced, as the gateway counts them; null when it reported none. */
  usage: { outputTokens: number } | null;
  /** Each step down the fallback chain the run took, in order, and why the model before failed. */
  fallbacks: { from: string; to: string; reason: string | null }[];
  /** Why the run failed, when `state` is `error`. */
  error?: string;
}

/** v2, `error`: the stream ends without an answer; `text` is the reply so far, which the client may keep. */
export interface ErrorData {
  /** `gateway_timeout` (the bridge's time limit came first), `gateway_unreachable`, `gateway_error`, … */
  code: string;
  message: string;
  text: string;
}

export type StreamEvent =
  | { event: 'start'; data: StartData }
  | { event: 'delta'; data: DeltaData }
  | { event: 'done'; data: DoneData }
  | { event: 'error'; data: ErrorData };
