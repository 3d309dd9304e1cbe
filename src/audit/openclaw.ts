/**
 * The adapter to a real OpenClaw on this machine: which version it is, and its two judgements of
 * a rendered openclaw.json (`config validate --json`, `security audit --json`), each run against
 * the file alone in a throwaway home and state folder. The only place that runs it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseAuditJson, parseValidateJson, type AuditFinding, type ValidateVerdict } from './findings.js';

const exec = promisify(execFile);

/**
 * The gateway token is a secret reference the audit resolves: it is given a placeholder of a
 * sound length, never the real token (whose length the audit then cannot judge).
 */
export const PLACEHOLDER_TOKEN = 'clawops-audit-placeholder-token-not-a-secret-0000';

/** How to run one OpenClaw, and which version it is. */
export interface OpenclawProgram {
  /** What was asked for: a path to openclaw.mjs or to an `openclaw` command. */
  path: string;
  version: string;
  command: string;
  args: string[];
}

/** OpenClaw could not be found or run, or said something unexpected. */
export class OpenclawError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpenclawError';
  }
}

/**
 * An OpenClaw at `path`: its openclaw.mjs (run with the `node` on PATH) or an `openclaw` command
 * installed by npm (a link into the package). The version is its package.json's.
 */
export async function locateOpenclaw(path: string): Promise<OpenclawProgram> {
  if (!existsSync(path)) throw new OpenclawError(`no OpenClaw at ${path}`);
  const real = await realpath(path);
  let version: string | undefined;
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const data = JSON.parse(await readFile(pkg, 'utf8')) as { name?: string; version?: string };
      if (data.name === 'openclaw' && typeof data.version === 'string') version = data.version;
      break;
    }
    if (dirname(dir) === dir) break;
  }
  if (!version) throw new OpenclawError(`${path} is not inside an installed openclaw package: its version cannot be told`);
  const script = /\.m?js$/.test(real);
  return { path, version, command: script ? 'node' : path, args: script ? [real] : [] };
}

async function runJson(program: OpenclawProgram, args: string[], env: Record<string, string>): Promise<string> {
  try {
    const { stdout } = await exec(program.command, [...program.args, ...args], { env, maxBuffer: 16 << 20, timeout: 120_000 });
    return stdout;
  } catch (e) {
    // validate exits 1 on an invalid config and still prints its JSON verdict.
    const out = (e as { stdout?: string }).stdout;
    if (typeof out === 'string' && out.trim().startsWith('{')) return out;
    const err = String((e as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-3).join(' ');
    throw new OpenclawError(`openclaw ${args.join(' ')} (${program.path}) failed: ${err || (e as Error).message.split('\n')[0]}`, { cause: e });
  }
}

/** OpenClaw's validate and audit verdicts on one openclaw.json. */
export async function judgeWithOpenclaw(
  program: OpenclawProgram,
  configText: string,
  processEnv: NodeJS.ProcessEnv,
): Promise<{ validate: ValidateVerdict; findings: AuditFinding[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-audit-'));
  try {
    const config = join(dir, 'openclaw.json');
    // As apply writes it: the audit judges the file's mode too.
    await writeFile(config, configText, { mode: 0o600 });
    const env = {
      PATH: processEnv.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      NO_COLOR: '1',
      OPENCLAW_CONFIG_PATH: config,
      OPENCLAW_STATE_DIR: join(dir, 'state'),
      OPENCLAW_GATEWAY_TOKEN: PLACEHOLDER_TOKEN,
    };
    const validate = parseValidateJson(await runJson(program, ['config', 'validate', '--json'], env));
    const findings = parseAuditJson(await runJson(program, ['security', 'audit', '--json'], env));
    return { validate, findings };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
