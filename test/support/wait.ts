// Waiting in tests on what the code is doing, never on how fast the machine is: a probe is asked
// again until it answers, for as long as the thing waited on can still answer (a process still
// running, say). The ceiling is a safety net sized for a machine under heavy load, far above any
// normal wait; reaching it fails the test with what was waited for and the last answer.

export interface WaitOptions {
  /** Pause between probes (default 100 ms). */
  intervalMs?: number;
  /** Give up after this long (default 10 minutes): a hang, not a slow machine. */
  ceilingMs?: number;
  /** Stop waiting, and fail, once this says the awaited thing can no longer happen. */
  alive?: () => boolean;
  /** Says what the wait saw last, for the failure message. */
  describe?: () => string;
}

/** Resolves with the probe's first answer that is neither undefined nor false. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions = {}): Promise<T> {
  const { intervalMs = 100, ceilingMs = 10 * 60_000, alive, describe } = options;
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== false) return answer;
    const seen = describe ? `; last seen:\n${describe()}` : '';
    if (alive && !alive()) throw new Error(`gave up waiting for ${what}: it can no longer happen${seen}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${Math.round(ceilingMs / 1000)} s${seen}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
