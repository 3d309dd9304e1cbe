import { countPlan, hasChanges, type Plan } from '../plan/model.js';

/**
 * The plan as JSON for machines. It carries no file content, no value and no digest of a
 * sensitive file: only paths, actions and reasons.
 */
export function renderPlanJson(plan: Plan): string {
  // The secrets' keyed digest stays in saved plans, where apply checks it.
  const { secretsDigest: _secrets, ...shown } = plan;
  return `${JSON.stringify({ format: 'clawops-plan/1', changes: hasChanges(plan), counts: countPlan(plan), ...shown }, null, 2)}\n`;
}
