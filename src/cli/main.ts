import { parseArgs } from 'node:util';
import { RenderError } from '../render/render.js';
import { processOutput, type Output } from './output.js';
import { reportProblems } from './problems.js';
import { renderCommand } from './render-command.js';
import { loadWorkspace, UsageError, type Install } from './workspace.js';

export const EXIT = { ok: 0, error: 1, usage: 64 } as const;

const HELP = `clawops: the OpenClaw deployment, as code

Usage:
  clawops validate                         Check every config file; print all problems
  clawops render --env NAME [--out DIR]    Render an environment's files (and manifest.json)
                 [--json]                  Print the manifest as JSON

Options:
  --root DIR    The repository holding config/ (default: the current folder)
  -h, --help    This help

Exit codes: 0 ok, 1 invalid config or failure, 64 wrong usage.
`;

/** The CLI: reads argv and env, picks the command, sets the exit code. No business logic here. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  output: Output = processOutput,
  install: Install = { programsDir: 'dist/proxies' },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        env: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        root: { type: 'string', default: '.' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    output.err(`error: ${(e as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.help || !command) {
    output.out(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }

  try {
    switch (command) {
      case 'validate': {
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        const c = result.config;
        output.out(
          `Config is valid: ${c.providers.length} providers, ${c.chain.length}-step fallback chain, ` +
            `${Object.keys(c.deployment.agents.entries).length} agents, ${c.environments.length} environments (${c.environments.map((e) => e.name).join(', ')}).`,
        );
        return EXIT.ok;
      }
      case 'render': {
        if (!values.env) throw new UsageError('render needs --env NAME');
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        await renderCommand(result.config, { env: values.env, out: values.out, json: values.json }, output, env, install);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      output.err(`error: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof RenderError) {
      output.err(`error: ${e.message}`);
      return EXIT.error;
    }
    throw e;
  }
}
