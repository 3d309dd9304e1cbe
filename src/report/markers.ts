/**
 * The hidden markers that let clawops find its own comments and issues again: each body it posts
 * starts with one, and is found by it on the next run.
 */
export const markers = {
  plan: (env: string) => `<!-- clawops:plan:${env} -->`,
  apply: (env: string) => `<!-- clawops:apply:${env} -->`,
  drift: (env: string) => `<!-- clawops:drift:${env} -->`,
  /** Ends the out-of-date notice put above an earlier plan, so the next one replaces it. */
  stale: '<!-- clawops:stale -->',
  chain: (env: string) => `<!-- clawops:chain:${env} -->`,
};
