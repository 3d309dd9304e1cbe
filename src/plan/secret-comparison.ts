import type { Environment } from '../schema/environment.js';
import type { Plan } from './model.js';

/**
 * How a secret source's values are compared with what the host has: one rule per source, the
 * seam where a source read on the host itself would say it compares otherwise.
 *
 * keyed-digest: the value reaches the machine running clawops (env, dotenv, ssm), which fills the
 * env file and compares it with the host's file by digest, keyed with the host's digest key. A plan
 * without the values (a pull request's) cannot: it shows each such file as compared at apply.
 */
export type SecretComparison = 'keyed-digest';

export function secretComparison(source: Environment['secrets']['source']): SecretComparison {
  switch (source) {
    case 'env':
    case 'dotenv':
    case 'ssm':
      return 'keyed-digest';
  }
}

/** What a plan decided for one sensitive file: its content unchanged, changed, or left to apply. */
export type SensitiveDecision = 'unchanged' | 'changes' | 'compared at apply';

/** For each sensitive file of a plan, what it decided by its source's rule (saved with the plan). */
export function sensitiveDecisions(plan: Plan): Record<string, SensitiveDecision> {
  const later = new Set(plan.uncompared);
  return Object.fromEntries(
    plan.files
      .filter((f) => f.sensitive && f.role !== 'previous-release')
      .map((f) => [f.path, later.has(f.path) ? 'compared at apply' : f.action === 'no-op' ? 'unchanged' : 'changes'] as const),
  );
}

/**
 * The files whose decision no longer holds at apply: a saved plan that showed a file unchanged
 * must not write it, nor skip one it showed changing. A file left to apply holds whatever apply finds.
 */
export function brokenDecisions(saved: Record<string, SensitiveDecision>, now: Record<string, SensitiveDecision>): string[] {
  return Object.entries(saved)
    .filter(([path, was]) => was !== 'compared at apply' && now[path] !== undefined && now[path] !== 'compared at apply' && now[path] !== was)
    .map(([path, was]) => `${path} (the plan showed it ${was === 'unchanged' ? 'unchanged' : 'changing'})`);
}
