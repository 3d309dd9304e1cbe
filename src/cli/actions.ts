import type { Output } from './output.js';

/**
 * What a command hands to GitHub Actions besides its output: the job summary, step outputs and
 * warning annotations, through @actions/core (loaded only inside Actions). Outside Actions, or
 * with no summary or output file, these do nothing.
 */
export async function writeJobSummary(env: NodeJS.ProcessEnv, markdown: string): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return;
  const core = await import('@actions/core');
  await core.summary.addRaw(markdown, true).write();
}

export async function setStepOutputs(env: NodeJS.ProcessEnv, values: Record<string, string>): Promise<void> {
  if (!env.GITHUB_OUTPUT) return;
  const core = await import('@actions/core');
  for (const [name, value] of Object.entries(values)) core.setOutput(name, value);
}

export async function warn(env: NodeJS.ProcessEnv, output: Output, message: string): Promise<void> {
  output.err(`warning: ${message}`);
  if (env.GITHUB_ACTIONS === 'true') {
    const core = await import('@actions/core');
    core.warning(message, { title: 'clawops' });
  }
}
