import { join, resolve } from 'node:path';
import { auditPasses } from '../audit/findings.js';
import { locateOpenclaw } from '../audit/openclaw.js';
import { auditEnvironment } from '../audit/oracle.js';
import type { Config } from '../config/model.js';
import { renderAuditJson, renderAuditText } from '../report/audit.js';
import type { Output } from './output.js';
import { renderContext, type Install } from './workspace.js';

/** Where the repository's own tools install keeps the pinned OpenClaw (scripts/tools.sh). */
const TOOLS_OPENCLAW = 'tools/node_modules/openclaw/openclaw.mjs';

/** `clawops audit`: the pinned OpenClaw's verdict on an environment's render; exit 1 unless it passes. */
export async function auditCommand(
  config: Config,
  opts: { env: string; root: string; json: boolean; openclaw?: string },
  output: Output,
  processEnv: NodeJS.ProcessEnv,
  install: Install,
): Promise<number> {
  const program = await locateOpenclaw(resolve(opts.openclaw ?? join(opts.root, TOOLS_OPENCLAW)));
  const verdict = await auditEnvironment(config, opts.env, program, await renderContext(processEnv, install), processEnv);
  output.out(opts.json ? renderAuditJson([verdict]) : renderAuditText(verdict));
  return auditPasses(verdict) ? 0 : 1;
}
