import { parseArgs } from 'node:util';
import { RenderError } from '../render/render.js';
import { processOutput, type Output } from './output.js';
import { SecretSourceError } from './secrets.js';
import { reportProblems } from './problems.js';
import type { GitHubIO } from './github-commands.js';
import { GitHubError } from '../github/port.js';
import { HostError } from '../transport/transport.js';
import { loadWorkspace, programPath, UsageError, type Install } from './workspace.js';

export const EXIT = { ok: 0, error: 1, usage: 64 } as const;

const HELP = `clawops: the OpenClaw deployment, as code

Usage:
  clawops validate                         Check every config file; print all problems
  clawops render --env NAME [--out DIR]    Render an environment's files (and manifest.json)
                 [--json]                  Print the manifest as JSON
  clawops plan --env NAME                  What apply would change on the environment's host
               [--json] [--out FILE] [--detailed-exitcode] [--verbose]
  clawops apply --env NAME | apply FILE    Apply the configuration (or exactly a saved plan)
               [--break-lock] [--lock-wait SECONDS] [--json] [--no-smoke]
  clawops drift --env NAME                 Compare the host with the configuration; changes nothing
               [--format text|markdown|json]
  clawops rollback --env NAME [--to RELEASE]   Back to a kept release, with the same health gates
  clawops smoke --env NAME                 The deployment checklist against the live environment

On this machine (the local environment):
  clawops up --env local                   Apply, then run the proxies and the gateway in the
                                           foreground, restarted when they crash; Ctrl-C stops them
  clawops down --env local                 Stop the deployment's user services (systemctl --user)
  clawops start --env local                What npm start runs: as user services where this machine
                                           has a user service manager (apply), else as up
               [--port PORT]               The gateway's port (CLAWOPS_LOCAL_PORT); the proxies
                                           follow it (PORT+1 to PORT+3)
               [--openclaw PATH]           Your own openclaw instead of the pinned one (CLAWOPS_OPENCLAW)

In GitHub Actions (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH; GITHUB_API_URL):
  clawops pr-report --env NAME --base-root DIR   The pull request's plan: sticky comment, job summary
               [--base-render DIR] [--plan|--no-plan] [--out DIR] [--artifact-url URL]
  clawops apply-report --env NAME [--result FILE] [--exit-code N] [--sha SHA]
                                           An apply's outcome on the merged pull request
  clawops drift --env NAME --report-issue  Drift as the environment's one drift issue

Options:
  --root DIR    The repository holding config/ (default: the current folder)
  -h, --help    This help

Exit codes: 0 ok (applied, or no changes), 1 invalid config or failure, 2 changes (plan
--detailed-exitcode) or drift, 3 rolled back, 4 locked by another apply, 64 wrong usage.
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
        'detailed-exitcode': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        'break-lock': { type: 'boolean', default: false },
        'no-smoke': { type: 'boolean', default: false },
        'lock-wait': { type: 'string', default: '120' },
        format: { type: 'string', default: 'text' },
        to: { type: 'string' },
        'base-root': { type: 'string' },
        'base-render': { type: 'string' },
        plan: { type: 'boolean', default: false },
        'no-plan': { type: 'boolean', default: false },
        'artifact-url': { type: 'string' },
        result: { type: 'string' },
        'exit-code': { type: 'string' },
        sha: { type: 'string' },
        'report-issue': { type: 'boolean', default: false },
        port: { type: 'string' },
        openclaw: { type: 'string' },
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

  // Each command's code is loaded when that command runs: `validate`, run on every push, starts
  // without the renderer, the SSH client, octokit or the reports.
  const githubIO = async (): Promise<GitHubIO> => {
    const { githubFromEnv } = await import('./github-commands.js');
    return { env, output, install, github: githubFromEnv(env) };
  };
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
        const { renderCommand } = await import('./render-command.js');
        await renderCommand(result.config, { env: values.env, out: values.out, json: values.json }, output, env, install);
        return EXIT.ok;
      }
      case 'plan':
      case 'apply':
      case 'drift':
      case 'rollback':
      case 'smoke':
      case 'up':
      case 'down':
      case 'start': {
        const { applyCommand, driftCommand, planCommand, readSavedPlan, rollbackCommand } = await import('./deploy-commands.js');
        const { hasUserServiceManager, prepare } = await import('./deploy.js');
        const savedPath = command === 'apply' ? positionals[1] : undefined;
        const saved = savedPath ? await readSavedPlan(savedPath) : undefined;
        const envName = values.env ?? saved?.environment;
        if (!envName) throw new UsageError(`${command} needs --env NAME`);
        if (saved && values.env && values.env !== saved.environment) throw new UsageError(`${savedPath} is a plan for ${saved.environment}, not ${values.env}`);
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        const portText = values.port ?? env.CLAWOPS_LOCAL_PORT;
        const port = portText === undefined || portText === '' ? undefined : Number(portText);
        if (port !== undefined && !Number.isInteger(port)) throw new UsageError(`--port takes a port number; found "${portText}"`);
        const openclaw = values.openclaw ?? env.CLAWOPS_OPENCLAW;
        const d = await prepare(result.config, envName, env, install, values.root, {
          ...(port !== undefined ? { port } : {}),
          ...(values.port !== undefined || values.openclaw !== undefined ? { flagged: true } : {}),
          ...(openclaw ? { openclaw: await programPath(openclaw, env) } : {}),
          // up runs the units itself, in the foreground.
          ...(command === 'up' || (command === 'start' && !(await hasUserServiceManager())) ? { foreground: true } : {}),
        });
        // Commands that write the files say which secrets they wrote empty; the others stay quiet.
        if (command === 'apply' || command === 'up' || command === 'start') for (const w of d.warnings) output.err(`warning: ${w}`);
        if (command === 'smoke') return await (await import('./smoke-command.js')).smokeCommand(d, output, env);
        if (command === 'plan') {
          return await planCommand(d, { json: values.json, out: values.out, detailedExitcode: values['detailed-exitcode'], verbose: values.verbose }, output);
        }
        if (command === 'drift') {
          if (values['report-issue']) return await (await import('./github-commands.js')).driftIssueCommand(d, await githubIO());
          const format = values.format;
          if (format !== 'text' && format !== 'markdown' && format !== 'json') throw new UsageError('--format is text, markdown or json');
          return await driftCommand(d, { format: values.json ? 'json' : format }, output);
        }
        const lockWaitSeconds = Number(values['lock-wait']);
        if (!Number.isFinite(lockWaitSeconds) || lockWaitSeconds < 0) throw new UsageError('--lock-wait takes seconds');
        if (command === 'up' || command === 'down' || command === 'start') {
          const local = await import('./local-commands.js');
          if (command === 'down') return await local.downCommand(d, output);
          return await (command === 'up' ? local.upCommand : local.startCommand)(d, { lockWaitSeconds }, output, env);
        }
        if (command === 'rollback') return await rollbackCommand(d, { to: values.to, breakLock: values['break-lock'], lockWaitSeconds }, output, env);
        return await applyCommand(
          d,
          { ...(saved ? { saved } : {}), breakLock: values['break-lock'], lockWaitSeconds, json: values.json, smoke: !values['no-smoke'] },
          output,
          env,
        );
      }
      case 'pr-report': {
        if (!values.env) throw new UsageError('pr-report needs --env NAME');
        if (!values['base-root']) throw new UsageError("pr-report needs --base-root DIR (a checkout of the base branch)");
        if (values.plan && values['no-plan']) throw new UsageError('--plan and --no-plan exclude each other');
        const { prReportCommand } = await import('./github-commands.js');
        return await prReportCommand(
          {
            env: values.env,
            root: values.root,
            baseRoot: values['base-root'],
            ...(values['base-render'] ? { baseRender: values['base-render'] } : {}),
            plan: !values['no-plan'],
            ...(values.out ? { out: values.out } : {}),
            ...(values['artifact-url'] ? { artifactUrl: values['artifact-url'] } : {}),
          },
          await githubIO(),
        );
      }
      case 'apply-report': {
        if (!values.env) throw new UsageError('apply-report needs --env NAME');
        const exitCode = values['exit-code'] ? Number(values['exit-code']) : undefined;
        if (exitCode !== undefined && !Number.isInteger(exitCode)) throw new UsageError('--exit-code takes a number');
        const { applyReportCommand } = await import('./github-commands.js');
        return await applyReportCommand(
          {
            env: values.env,
            ...(values.result ? { result: values.result } : {}),
            ...(exitCode !== undefined ? { exitCode } : {}),
            ...(values.sha ? { sha: values.sha } : {}),
          },
          await githubIO(),
        );
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      output.err(`error: ${e.message}`);
      return EXIT.usage;
    }
    // Errors a person can act on, from the renderer, a host, GitHub or a secret source: one line, exit 1.
    if (e instanceof RenderError || e instanceof HostError || e instanceof GitHubError || e instanceof SecretSourceError) {
      output.err(`error: ${e.message}`);
      return EXIT.error;
    }
    throw e;
  }
}
