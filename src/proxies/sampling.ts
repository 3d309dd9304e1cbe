/**
 * Per-model sampling rules, declared in the provider's config (`sampling:` on a model) and
 * rendered into proxy.json, so a model whose provider fixes or narrows a sampling parameter gets
 * a request it accepts without a rule hard-coded in any proxy. A rule is one of:
 *
 *   0.95                              fixed: the proxy sends exactly this value
 *   {thinking: 1, nonThinking: 0.6}   fixed per mode: the value for the request's thinking mode
 *   {min: 0.001, max: 0.999}          range: the client's value is clamped into it
 *
 * A fixed value replaces whatever the client sent, and is sent even when the client sent nothing
 * (the upstream's answer to the only allowed value is the same either way). A range leaves an
 * absent parameter absent. A rule given per mode also says the model thinks by default and that a
 * request may turn thinking off.
 */

export const SAMPLING_PARAMS = ['temperature', 'top_p', 'n', 'presence_penalty', 'frequency_penalty'] as const;
export type SamplingParam = (typeof SAMPLING_PARAMS)[number];

export type SamplingRule = number | { thinking: number; nonThinking: number } | { min: number; max: number };
export type Sampling = Partial<Record<SamplingParam, SamplingRule>>;

/** True when some rule differs by thinking mode, i.e. the model thinks and a request may switch it off. */
export function switchesThinking(sampling: Sampling | undefined): boolean {
  return Object.values(sampling ?? {}).some((rule) => typeof rule === 'object' && 'thinking' in rule);
}

/** Applies the rules to an outgoing request body (changed in place). */
export function applySampling(body: Record<string, unknown>, sampling: Sampling, thinking: boolean): void {
  for (const param of SAMPLING_PARAMS) {
    const rule = sampling[param];
    if (rule === undefined) continue;
    if (typeof rule === 'number') body[param] = rule;
    else if ('thinking' in rule) body[param] = thinking ? rule.thinking : rule.nonThinking;
    else if (typeof body[param] === 'number') body[param] = Math.min(rule.max, Math.max(rule.min, body[param] as number));
  }
}

/** Problems with one model's `sampling` value in proxy.json, each prefixed with `at`. */
export function samplingProblems(value: unknown, at: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object, got ${JSON.stringify(value)}`];
  const problems: string[] = [];
  for (const [param, rule] of Object.entries(value)) {
    if (!(SAMPLING_PARAMS as readonly string[]).includes(param)) {
      problems.push(`${at}.${param}: unknown parameter (expected one of ${SAMPLING_PARAMS.join(', ')})`);
      continue;
    }
    if (!isRule(rule)) {
      problems.push(`${at}.${param}: expected a number, {thinking, nonThinking} or {min, max} with min <= max, got ${JSON.stringify(rule)}`);
    }
  }
  return problems;
}

function isRule(rule: unknown): rule is SamplingRule {
  if (isNum(rule)) return true;
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return false;
  const keys = Object.keys(rule).sort().join(',');
  const r = rule as Record<string, unknown>;
  if (keys === 'nonThinking,thinking') return isNum(r.thinking) && isNum(r.nonThinking);
  if (keys === 'max,min') return isNum(r.min) && isNum(r.max) && r.min <= r.max;
  return false;
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
