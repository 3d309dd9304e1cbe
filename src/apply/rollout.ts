/**
 * A release rolled out across a fleet in batches. Each host is one whole apply (its own lock,
 * stage, switch and health gates), as for a single host; the hosts of a batch run at once; a batch
 * in which more hosts failed than the policy allows stops the rollout, and the hosts after it are
 * never started, so they stay on the release they run.
 *
 * The policy is Ansible's `serial` and `max_fail_percentage` (a percentage batch is rounded down,
 * at least one host; the rollout stops only when the failed share of a batch is *more* than the
 * percentage): https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_strategies.html
 * and lib/ansible/utils/helpers.py pct_to_int. SSM Run Command calls the same two knobs
 * MaxConcurrency and MaxErrors.
 */
import { HostError } from '../transport/transport.js';

export interface RolloutPolicy {
  /** Hosts at once: a count, or a percentage of the fleet ("34%"). */
  batch: number | string;
  /** Stop after a batch in which more than this percentage of its hosts failed. */
  maxFailPercentage: number;
}

export type HostStatus = 'applied' | 'no-changes' | 'rolled-back' | 'failed' | 'not-started';

export interface HostOutcome {
  host: string;
  status: HostStatus;
  /** The release this run made for the host (applied, rolled back or failed). */
  release?: string;
  /** Where a failure happened: the apply's step (lock, facts, stage, activate, …). */
  step?: string;
  cause?: string;
  /**
   * What the host runs now, in words a person can act on: "release X", "its previous release Y
   * (rolled back)", or "unknown" when neither came up.
   */
  on?: string;
}

export interface RolloutResult {
  policy: RolloutPolicy;
  /** The host names of each batch, in order, those never started included. */
  batches: string[][];
  hosts: HostOutcome[];
  /** Set when a batch's failures stopped the rollout (or an interruption did). */
  stopped?: { batch: number; failed: number; size: number; reason: 'failures' | 'interrupted' };
}

/** How many hosts go in each batch: a count, or a percentage of the fleet rounded down, at least one. */
export function batchSizes(total: number, batch: number | string): number[] {
  if (total <= 0) return [];
  const pct = typeof batch === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(batch) : null;
  if (typeof batch === 'string' && !pct) throw new TypeError(`batch: expected a count or a percentage, found "${batch}"`);
  const size = Math.max(1, Math.min(total, pct ? Math.floor((Number(pct[1]) / 100) * total) : Number(batch)));
  const sizes: number[] = [];
  for (let left = total; left > 0; left -= size) sizes.push(Math.min(size, left));
  return sizes;
}

export const failed = (o: HostOutcome): boolean => o.status === 'failed' || o.status === 'rolled-back';

/** Whether a batch's failures stop the rollout: more than maxFailPercentage of it failed. */
export function exceeds(failures: number, size: number, maxFailPercentage: number): boolean {
  return failures > 0 && (failures / size) * 100 > maxFailPercentage;
}

/**
 * Runs `applyOne` for each host, batch by batch; a host whose apply throws is a failure at the
 * step its error names. Returns every host's outcome, in the fleet's order.
 */
export async function rollout(
  hosts: readonly string[],
  policy: RolloutPolicy,
  applyOne: (host: string) => Promise<HostOutcome>,
  opts: { onBatch?: (index: number, hosts: readonly string[]) => void; signal?: AbortSignal } = {},
): Promise<RolloutResult> {
  const batches: string[][] = [];
  let at = 0;
  for (const size of batchSizes(hosts.length, policy.batch)) {
    batches.push(hosts.slice(at, at + size));
    at += size;
  }
  const outcomes = new Map<string, HostOutcome>();
  let stopped: RolloutResult['stopped'];
  for (const [i, batch] of batches.entries()) {
    if (opts.signal?.aborted) {
      stopped = { batch: i, failed: 0, size: batch.length, reason: 'interrupted' };
      break;
    }
    opts.onBatch?.(i, batch);
    const results = await Promise.all(
      batch.map((host) =>
        applyOne(host).catch((e: unknown): HostOutcome => ({
          host,
          status: 'failed',
          step: e instanceof HostError ? e.step : 'apply',
          cause: e instanceof HostError ? e.message.replace(`${e.target}: ${e.step}: `, '') : e instanceof Error ? e.message : String(e),
          // Every error an apply throws comes before the switch, or leaves the switch to end on the host.
          on: 'what it ran before (unchanged)',
        })),
      ),
    );
    for (const r of results) outcomes.set(r.host, r);
    const failures = results.filter(failed).length;
    if (exceeds(failures, batch.length, policy.maxFailPercentage)) {
      stopped = { batch: i, failed: failures, size: batch.length, reason: 'failures' };
      break;
    }
  }
  return {
    policy,
    batches,
    hosts: hosts.map((host) => outcomes.get(host) ?? { host, status: 'not-started', on: 'what it ran before (never started)' }),
    ...(stopped ? { stopped } : {}),
  };
}
