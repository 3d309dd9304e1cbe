import { GATEWAY_UNIT } from '../render/render.js';
import type { DesiredService } from '../render/desired.js';
import { systemctl } from '../plan/facts.js';
import { healthy, Supervisor, type Supervised } from '../supervise/supervisor.js';
import { applyCommand, DEPLOY_EXIT } from './deploy-commands.js';
import type { Deployment } from './deploy.js';
import type { Output } from './output.js';
import { UsageError } from './workspace.js';

/** Where the local deployment answers, in one line: the gateway, then each proxy. */
function where(d: Deployment): string {
  const gateway = d.desired.units.find((u) => u.name === GATEWAY_UNIT);
  const proxies = d.desired.units.filter((u) => u.kind === 'proxy');
  const state = d.desired.files.find((f) => f.role === 'openclaw-config')!.path.replace(/\/[^/]+$/, '');
  return `gateway on http://127.0.0.1:${gateway?.port}, proxies ${proxies.map((u) => `${u.proxy} :${u.port}`).join(', ')}; state in ${state}`;
}

function needsLocalUnits(d: Deployment, command: string): void {
  const env = d.config.environments.find((e) => e.name === d.envName)!;
  if (env.target.kind !== 'local' || !d.desired.units.length) {
    throw new UsageError(`${command} runs an environment on this machine; ${d.envName} is not one (its services are ${env.services}${env.target.kind === 'ssh' ? ` on ${env.target.host ?? 'its hosts'}` : ''})`);
  }
}

/** Each unit's process as `up` runs it: the unit's environment, and its env file's secrets from the secret source. */
function supervised(d: Deployment, u: DesiredService, processEnv: NodeJS.ProcessEnv): Supervised {
  const envFile = d.desired.files.find((f) => f.path === u.run.environmentFile);
  const secrets = Object.fromEntries(Object.entries(envFile?.secrets ?? {}).map(([name, secret]) => [name, d.secrets(secret) ?? '']));
  return {
    name: u.name.replace(/\.service$/, ''),
    exec: u.run.exec,
    cwd: u.run.cwd,
    env: { PATH: processEnv.PATH ?? '/usr/bin:/bin', HOME: processEnv.HOME ?? '/', ...(processEnv.LANG ? { LANG: processEnv.LANG } : {}), ...u.run.environment, ...secrets },
    health: u.health,
    // OpenClaw's first start on a busy machine takes a while; a proxy starts in well under a second.
    startSeconds: u.kind === 'gateway' ? 300 : 60,
  };
}

/**
 * `clawops up`: applies the environment's files, then runs its proxies and gateway in the
 * foreground until Ctrl-C or SIGTERM. Exit 0 when stopped so, 1 when a service could not start.
 */
export async function upCommand(d: Deployment, opts: { lockWaitSeconds: number }, output: Output, processEnv: NodeJS.ProcessEnv): Promise<number> {
  needsLocalUnits(d, 'up');
  for (const u of d.desired.units) {
    if (await healthy(u.health)) {
      output.err(`error: something already answers at ${u.health}: the local deployment runs already (as your user services? \`clawops down --env ${d.envName}\` stops them), or choose other ports with --port`);
      return DEPLOY_EXIT.error;
    }
  }
  const applied = await applyCommand(d, { breakLock: false, lockWaitSeconds: opts.lockWaitSeconds, json: false, smoke: false }, output, processEnv);
  if (applied !== DEPLOY_EXIT.ok) return applied;

  const supervisor = new Supervisor({ log: (line) => output.out(line), say: (line) => output.err(`clawops | ${line}`) });
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = signal;
    output.err(`clawops | ${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping the gateway, then the proxies`);
    void supervisor.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    output.err(`Running the local deployment in the foreground (${where(d)}). Ctrl-C stops it.`);
    const stages = [d.desired.units.filter((u) => u.kind === 'proxy'), d.desired.units.filter((u) => u.kind === 'gateway')];
    const started = supervisor.start(stages.map((s) => s.map((u) => supervised(d, u, processEnv)))).then(
      () => output.err(`clawops | ready: ${where(d)}. \`clawops smoke --env ${d.envName}\` checks it; Ctrl-C stops it.`),
      () => {},
    );
    const failure = await supervisor.ended;
    await started;
    if (failure) {
      output.err(`error: ${failure}; stopping the others`);
      await supervisor.stop();
      return DEPLOY_EXIT.error;
    }
    output.err('clawops | everything stopped');
    return DEPLOY_EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await supervisor.stop();
  }
}

/** `clawops down`: stops the local deployment's user services (and keeps them from starting at the next login). */
export async function downCommand(d: Deployment, output: Output): Promise<number> {
  needsLocalUnits(d, 'down');
  if (d.desired.services !== 'user') {
    output.out(`Nothing runs as your user services here (no user service manager): \`clawops up --env ${d.envName}\` runs the deployment in the foreground, and Ctrl-C stops it.`);
    return DEPLOY_EXIT.ok;
  }
  const t = await d.connect();
  try {
    const names = d.desired.units.map((u) => u.name).reverse();
    const r = await t.run([...systemctl(d.desired), 'disable', '--now', ...names], { timeoutMs: 120_000 });
    if (r.code !== 0) {
      output.err(`error: systemctl --user disable --now: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      return DEPLOY_EXIT.error;
    }
    output.out(`Stopped ${names.join(', ')}. \`clawops apply --env ${d.envName}\` starts them again.`);
    return DEPLOY_EXIT.ok;
  } finally {
    await t.close();
  }
}

/**
 * `clawops start` (what `npm start` runs): the local deployment, running. As the operator's user
 * services where the machine has a user service manager (then it returns), else in the foreground.
 */
export async function startCommand(d: Deployment, opts: { lockWaitSeconds: number }, output: Output, processEnv: NodeJS.ProcessEnv): Promise<number> {
  needsLocalUnits(d, 'start');
  if (d.desired.services !== 'user') {
    output.err('No user service manager on this machine (systemctl --user): running the deployment in the foreground, as `clawops up` does.');
    return upCommand(d, opts, output, processEnv);
  }
  const code = await applyCommand(d, { breakLock: false, lockWaitSeconds: opts.lockWaitSeconds, json: false }, output, processEnv);
  if (code === DEPLOY_EXIT.ok) {
    output.out(`Running as your user services (systemctl --user, units in ${d.desired.files.find((f) => f.role === 'unit')!.path.replace(/\/[^/]+$/, '')}): ${where(d)}.`);
    output.out(`\`clawops down --env ${d.envName}\` stops them; \`journalctl --user -u openclaw-gateway -f\` follows the gateway's log.`);
  }
  return code;
}
