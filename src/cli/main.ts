import { OpenclawError } from '../audit/openclaw.js';
import { EnvValueError } from '../render/envfile.js';
import { RenderError } from '../render/render.js';
import { ArgumentError, commandHelp, overviewHelp, parseCommandLine } from './commands.js';
import { processOutput, type Output } from './output.js';
import { SecretSourceError } from './secrets.js';
import { reportProblems } from './problems.js';
import type { GitHubIO } from './github-commands.js';
import { GitHubError } from '../github/port.js';
import { SecurityGroupError } from '../aws/security-group.js';
import { HostError } from '../transport/transport.js';
import { loadWorkspace, programPath, UsageError, type Install } from './workspace.js';

export const EXIT = { ok: 0, error: 1, usage: 64 } as const;

/** The CLI: reads argv and env, picks the command, sets the exit code. No business logic here. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  output: Output = processOutput,
  install: Install = { programsDir: 'dist/proxies' },
): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof ArgumentError)) throw e;
    output.err(`error: ${e.message}`);
    return EXIT.usage;
  }
  if ('help' in parsed) {
    output.out(parsed.help ? commandHelp(parsed.help) : overviewHelp());
    return argv.length ? EXIT.ok : EXIT.usage;
  }
  const command = parsed.command.name;
  const positionals = parsed.args;
  const str = (name: string) => parsed.values[name] as string | undefined;
  const flag = (name: string) => parsed.values[name] === true;
  const values = {
    env: str('env'),
    out: str('out'),
    root: str('root') ?? '.',
    json: flag('json'),
  };

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
      case 'audit': {
        if (!values.env) throw new UsageError('audit needs --env NAME');
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        const { auditCommand } = await import('./audit-command.js');
        return await auditCommand(result.config, { env: values.env, root: values.root, json: values.json, pinned: flag('pinned'), ...(str('openclaw') ? { openclaw: str('openclaw')! } : {}) }, output, env, install);
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
        const savedPath = command === 'apply' ? positionals[0] : undefined;
        const saved = savedPath ? await readSavedPlan(savedPath) : undefined;
        const envName = values.env ?? saved?.environment;
        if (!envName) throw new UsageError(`${command} needs --env NAME`);
        if (saved && values.env && values.env !== saved.environment) throw new UsageError(`${savedPath} is a plan for ${saved.environment}, not ${values.env}`);
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        // apply and rollback change a host elsewhere only once a person said yes, or --auto-approve
        // did; a saved plan was looked at when it was made. Refused before anything is contacted.
        const target = result.config.environments.find((e) => e.name === envName)?.target;
        const ask = (command === 'apply' || command === 'rollback') && target?.kind === 'ssh' && !saved && !flag('auto-approve');
        if (ask && !output.ask) {
          throw new UsageError(`${command} changes ${envName} (${target.host ? `${target.user}@${target.host}` : 'its hosts'}) and there is no terminal to ask on: pass --auto-approve to ${command} without asking`);
        }
        const portText = str('port') ?? env.CLAWOPS_LOCAL_PORT;
        const port = portText === undefined || portText === '' ? undefined : Number(portText);
        if (port !== undefined && !Number.isInteger(port)) throw new UsageError(`--port takes a port number; found "${portText}"`);
        const openclaw = str('openclaw') ?? env.CLAWOPS_OPENCLAW;
        const d = await prepare(result.config, envName, env, install, values.root, {
          ...(port !== undefined ? { port } : {}),
          ...(str('port') !== undefined || str('openclaw') !== undefined ? { flagged: true } : {}),
          ...(str('host') !== undefined ? { host: str('host')! } : {}),
          ...(openclaw ? { openclaw: await programPath(openclaw, env) } : {}),
          // up runs the units itself, in the foreground.
          ...(command === 'up' || (command === 'start' && !(await hasUserServiceManager())) ? { foreground: true } : {}),
        });
        // Commands that write the files say which secrets they wrote empty; the others stay quiet.
        // Parameter versions that could not be read leave env files uncompared: plan says why.
        if (command === 'apply' || command === 'up' || command === 'start' || (command === 'plan' && d.hostSecrets?.versions === null)) for (const w of d.warnings) output.err(`warning: ${w}`);
        if (command === 'smoke' && flag('chain')) {
          if (flag('report-issue')) return await (await import('./github-commands.js')).chainIssueCommand(d, await githubIO());
          return await (await import('./smoke-command.js')).chainCommand(d, output, { json: values.json });
        }
        if (command === 'smoke') return await (await import('./smoke-command.js')).smokeCommand(d, output, env);
        if (d.rollout && (command === 'plan' || command === 'drift' || command === 'apply')) {
          const fleet = await import('./fleet-commands.js');
          if (command === 'plan') {
            return await fleet.fleetPlanCommand(d, { json: values.json, ...(values.out ? { out: values.out } : {}), detailedExitcode: flag('detailed-exitcode'), verbose: flag('verbose'), readOnly: flag('read-only') }, output);
          }
          if (command === 'drift') {
            const format = values.json ? 'json' : (str('format') ?? 'text');
            if (format !== 'text' && format !== 'markdown' && format !== 'json') throw new UsageError('--format is text, markdown or json');
            if (flag('report-issue')) throw new UsageError(`--report-issue reports one host: ${envName} is a fleet, pass --host NAME`);
            return await fleet.fleetDriftCommand(d, { format }, output);
          }
          if (saved) throw new UsageError(`a saved plan is for one host; ${envName} is a fleet`);
          const lockWait = Number(str('lock-wait') ?? 120);
          if (!Number.isFinite(lockWait) || lockWait < 0) throw new UsageError('--lock-wait takes seconds');
          return await fleet.fleetApplyCommand(d, { breakLock: flag('break-lock'), prune: flag('prune'), lockWaitSeconds: lockWait, json: values.json, ask, smoke: !flag('no-smoke') }, output, env);
        }
        if (command === 'plan') {
          return await planCommand(d, { json: values.json, out: values.out, detailedExitcode: flag('detailed-exitcode'), verbose: flag('verbose'), readOnly: flag('read-only') }, output);
        }
        if (command === 'drift') {
          if (flag('report-issue')) return await (await import('./github-commands.js')).driftIssueCommand(d, await githubIO());
          const format = str('format') ?? 'text';
          if (format !== 'text' && format !== 'markdown' && format !== 'json') throw new UsageError('--format is text, markdown or json');
          return await driftCommand(d, { format: values.json ? 'json' : format }, output);
        }
        const lockWaitSeconds = Number(str('lock-wait') ?? 120);
        if (!Number.isFinite(lockWaitSeconds) || lockWaitSeconds < 0) throw new UsageError('--lock-wait takes seconds');
        const to = str('to');
        if (command === 'up' || command === 'down' || command === 'start') {
          const local = await import('./local-commands.js');
          if (command === 'down') return await local.downCommand(d, output);
          return await (command === 'up' ? local.upCommand : local.startCommand)(d, { lockWaitSeconds }, output, env);
        }
        if (command === 'rollback') return await rollbackCommand(d, { ...(to ? { to } : {}), breakLock: flag('break-lock'), lockWaitSeconds, ask }, output, env);
        return await applyCommand(
          d,
          { ...(saved ? { saved } : {}), breakLock: flag('break-lock'), prune: flag('prune'), lockWaitSeconds, json: values.json, smoke: !flag('no-smoke'), ask },
          output,
          env,
        );
      }
      case 'doctor': {
        if (!values.env) throw new UsageError('doctor needs --env NAME');
        const result = await loadWorkspace(values.root);
        if (!result.ok) {
          await reportProblems(result.problems, output, env);
          return EXIT.error;
        }
        const { doctorCommand } = await import('./doctor-command.js');
        return await doctorCommand(result.config, values.env, output, env);
      }
      case 'pr-report': {
        if (!values.env) throw new UsageError('pr-report needs --env NAME');
        const baseRoot = str('base-root');
        if (!baseRoot) throw new UsageError("pr-report needs --base-root DIR (a checkout of the base branch)");
        if (flag('plan') && flag('no-plan')) throw new UsageError('--plan and --no-plan exclude each other');
        const { prReportCommand } = await import('./github-commands.js');
        return await prReportCommand(
          {
            env: values.env,
            root: values.root,
            baseRoot,
            ...(str('base-render') ? { baseRender: str('base-render')! } : {}),
            plan: !flag('no-plan'),
            ...(values.out ? { out: values.out } : {}),
            ...(str('artifact-url') ? { artifactUrl: str('artifact-url')! } : {}),
          },
          await githubIO(),
        );
      }
      case 'apply-report': {
        if (!values.env) throw new UsageError('apply-report needs --env NAME');
        const exitCode = str('exit-code') ? Number(str('exit-code')) : undefined;
        if (exitCode !== undefined && !Number.isInteger(exitCode)) throw new UsageError('--exit-code takes a number');
        const { applyReportCommand } = await import('./github-commands.js');
        return await applyReportCommand(
          {
            env: values.env,
            ...(str('result') ? { result: str('result')! } : {}),
            ...(exitCode !== undefined ? { exitCode } : {}),
            ...(str('sha') ? { sha: str('sha')! } : {}),
          },
          await githubIO(),
        );
      }
      default:
        throw new Error(`${command} is in the command table but not run here`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      output.err(`error: ${e.message}`);
      return EXIT.usage;
    }
    // Errors a person can act on, from the renderer, a host, GitHub, EC2 or a secret source: one line, exit 1.
    if (e instanceof RenderError || e instanceof OpenclawError || e instanceof HostError || e instanceof GitHubError || e instanceof SecurityGroupError || e instanceof SecretSourceError || e instanceof EnvValueError) {
      output.err(`error: ${e.message}`);
      return EXIT.error;
    }
    // Anything else is a bug: one line, and the details in a file of their own (not the log).
    output.err(`error: ${command} failed unexpectedly (${e instanceof Error ? e.name : typeof e}); this is a bug in clawops: ${await crashReport(e, argv, env)}`);
    return EXIT.error;
  }
}

/**
 * Writes what a bug report needs (the stack, the command line, the version) to a file of its own,
 * with every value of the process environment longer than 5 characters replaced, since a secret
 * may have found its way into a message. Says where it went, or why it could not be written.
 */
async function crashReport(e: unknown, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const [{ writeFile }, { tmpdir }, { join }] = await Promise.all([import('node:fs/promises'), import('node:os'), import('node:path')]);
  const safe = new Set(['PATH', 'HOME', 'PWD', 'OLDPWD', 'SHELL', 'TMPDIR', 'TERM', 'LANG', 'USER', 'LOGNAME']);
  const values = Object.entries(env)
    .filter(([k, v]) => !safe.has(k) && v && v.length > 5)
    .map(([, v]) => v!)
    .sort((a, b) => b.length - a.length);
  let text = [`clawops ${argv.join(' ')}`, `node ${process.version} on ${process.platform}-${process.arch}`, '', e instanceof Error ? (e.stack ?? String(e)) : String(e), ''].join('\n');
  for (const v of values) text = text.split(v).join('***');
  const file = join(env.TMPDIR || tmpdir(), `clawops-crash-${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}.txt`);
  try {
    await writeFile(file, text, { mode: 0o600 });
    return `the details are in ${file}; please attach it to an issue`;
  } catch (w) {
    return `the details could not be written to ${file} (${w instanceof Error ? w.message : String(w)})`;
  }
}
