/**
 * OpenClaw as the judge of a render: the environment's openclaw.json, validated and audited by the
 * OpenClaw version the environment pins, and the verdict drawn against what it accepts. Used by
 * `clawops audit` and by the oracle tests alike.
 */
import type { Config } from '../config/model.js';
import type { RenderContext } from '../render/desired.js';
import { render, RenderError } from '../render/render.js';
import type { Environment } from '../schema/environment.js';
import { judgeFindings, type AuditVerdict } from './findings.js';
import { judgeWithOpenclaw, OpenclawError, type OpenclawProgram } from './openclaw.js';

/**
 * Refuses to judge an environment with another OpenClaw than the one it pins: another version's
 * checks would pass or fail what the host never runs.
 */
export function checkPin(env: Environment, program: OpenclawProgram): void {
  const file = `config/environments/${env.name}.yaml`;
  if (!env.runtime) {
    throw new OpenclawError(`${env.name} pins no OpenClaw version (${file} runtime.openclaw): there is no version to audit it with`);
  }
  if (env.runtime.openclaw !== program.version) {
    throw new OpenclawError(
      `${env.name} pins OpenClaw ${env.runtime.openclaw} (${file} runtime.openclaw), but the OpenClaw at ${program.path} is ${program.version}: ` +
        `install openclaw@${env.runtime.openclaw} and pass it with --openclaw to audit ${env.name}`,
    );
  }
}

/** Renders the environment's openclaw.json and has the pinned OpenClaw validate and audit it. */
export async function auditEnvironment(
  config: Config,
  envName: string,
  program: OpenclawProgram,
  ctx: RenderContext,
  processEnv: NodeJS.ProcessEnv,
  /** Replaces the rendered openclaw.json (a test's deliberate bad edit). */
  edit: (text: string) => string = (t) => t,
): Promise<AuditVerdict> {
  const env = config.environments.find((e) => e.name === envName);
  if (!env) throw new RenderError(`unknown environment "${envName}" (expected one of: ${config.environments.map((e) => e.name).join(', ')})`);
  checkPin(env, program);
  const file = render(config, envName, ctx).files.find((f) => f.role === 'openclaw-config');
  if (!file) throw new RenderError(`${envName} renders no openclaw.json`);
  const { validate, findings } = await judgeWithOpenclaw(program, edit(file.content), processEnv);
  return { environment: envName, openclaw: program.version, validate, ...judgeFindings(findings, env.security?.accept ?? []) };
}
