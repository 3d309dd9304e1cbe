import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { auditPasses } from '../audit/findings.js';
import { locateOpenclaw, type OpenclawProgram } from '../audit/openclaw.js';
import { auditEnvironment, checkPin } from '../audit/oracle.js';
import type { Config } from '../config/model.js';
import { auditSummaryLine, renderAuditJson, renderAuditText } from '../report/audit.js';
import { writeJobSummary } from './actions.js';
import type { Output } from './output.js';
import { cachedOpenclawEntry, installOpenclaw } from './runtime-source.js';
import { renderContext, UsageError, type Install } from './workspace.js';

/** Where the repository's own tools install keeps the OpenClaw its tests run (scripts/tools.sh). */
const TOOLS_OPENCLAW = 'tools/node_modules/openclaw/openclaw.mjs';

/**
 * The OpenClaw to judge with: the one given; else the repository's tools install when it is the
 * pinned version; else the pinned version from the npm registry, fetched once into the runtime
 * cache (as apply fetches it).
 */
async function pinnedOpenclaw(pin: string, opts: { root: string; openclaw?: string }, output: Output, processEnv: NodeJS.ProcessEnv): Promise<OpenclawProgram> {
  if (opts.openclaw) return locateOpenclaw(resolve(opts.openclaw));
  const tools = resolve(join(opts.root, TOOLS_OPENCLAW));
  if (existsSync(tools)) {
    const program = await locateOpenclaw(tools);
    if (program.version === pin) return program;
  }
  if (!existsSync(cachedOpenclawEntry(processEnv, pin))) output.err(`Fetching OpenClaw ${pin} from the npm registry (once, into the runtime cache)…`);
  return locateOpenclaw(await installOpenclaw(processEnv, pin));
}

/** `clawops audit`: the pinned OpenClaw's verdict on an environment's render; exit 1 unless it passes. */
export async function auditCommand(
  config: Config,
  opts: { env: string; root: string; json: boolean; openclaw?: string; pinned: boolean },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
  install: Install,
): Promise<number> {
  const env = config.environments.find((e) => e.name === opts.env);
  if (!env) throw new UsageError(`unknown environment "${opts.env}" (expected one of: ${config.environments.map((e) => e.name).join(', ')})`);
  if (!env.runtime) {
    throw new UsageError(`${env.name} pins no OpenClaw version (config/environments/${env.name}.yaml runtime.openclaw): there is no version to audit it with`);
  }
  if (opts.pinned) {
    output.out(`openclaw=${env.runtime.openclaw}`);
    return 0;
  }
  const program = await pinnedOpenclaw(env.runtime.openclaw, opts, output, processEnv);
  checkPin(env, program);
  const verdict = await auditEnvironment(config, opts.env, program, await renderContext(processEnv, install), processEnv);
  const text = renderAuditText(verdict);
  output.out(opts.json ? renderAuditJson([verdict]) : text);
  await writeJobSummary(processEnv, `## clawops audit · \`${verdict.environment}\`\n\n**${auditSummaryLine(verdict)}**\n\n\`\`\`text\n${text.replace(/`{3,}/g, '')}\`\`\`\n`);
  return auditPasses(verdict) ? 0 : 1;
}
