import { formatProblem, type Problem } from '../config/problem.js';
import type { Output } from './output.js';

/** Prints every problem as file:line:col; inside GitHub Actions, also as annotations on those lines. */
export async function reportProblems(problems: readonly Problem[], output: Output, env: NodeJS.ProcessEnv): Promise<void> {
  for (const p of problems) output.err(`error: ${formatProblem(p)}`);
  output.err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found; nothing was written.`);
  if (env.GITHUB_ACTIONS === 'true') {
    const core = await import('@actions/core');
    for (const p of problems) {
      core.error(p.key ? `${p.key}: ${p.message}` : p.message, {
        title: 'clawops validate',
        file: p.file,
        startLine: p.line,
        startColumn: p.column,
      });
    }
  }
}
