import type { DesiredState } from '../render/desired.js';
import { factsProbe, parseFacts, type HostFacts } from '../plan/facts.js';
import type { Command, Transport } from '../transport/transport.js';
import { ApplyError } from './errors.js';

/** Runs a command, failing with the step's name and the command's own error text. */
export async function must(t: Transport, step: string, command: Command, stdin?: string | Buffer, timeoutMs?: number): Promise<string> {
  const r = await t.run(command, { ...(stdin !== undefined ? { stdin } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.code !== 0) throw new ApplyError(t.target, step, `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || r.stdout.trim().slice(-300)}`);
  return r.stdout;
}

/** All facts in one round trip. */
export async function gatherFacts(t: Transport, desired: DesiredState): Promise<HostFacts> {
  const probe = factsProbe(desired);
  return parseFacts(await must(t, 'facts', probe.command, probe.script));
}

/** Root's words on a systemd host (sudo, never asking for a password); as-is on the local one. */
export function asRoot(desired: DesiredState, words: readonly string[]): string[] {
  return desired.services === 'systemd' ? ['sudo', '-n', ...words] : [...words];
}
