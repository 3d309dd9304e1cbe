import { countPlan, hasChanges, type Plan } from '../plan/model.js';

/**
 * The plan as JSON for machines. It carries no file content, no value and no digest of a
 * sensitive file: only paths, actions and reasons.
 */
export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify({ format: 'clawops-plan/1', changes: hasChanges(plan), counts: countPlan(plan), ...plan }, null, 2)}\n`;
}
