import type { DesiredState } from '../render/desired.js';
import { factsProbe, parseFacts, readOnlyFactsCommand, type HostFacts } from '../plan/facts.js';
import type { Command, Transport } from '../transport/transport.js';
import { ApplyError } from './errors.js';

/** Runs a command, failing with the step's name and the command's own error text. */
export async function must(t: Transport, step: string, command: Command, stdin?: string | Buffer, timeoutMs?: number): Promise<string> {
  const r = await t.run(command, { ...(stdin !== undefined ? { stdin } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.code !== 0) throw new ApplyError(t.target, step, `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || r.stdout.trim().slice(-300)}`);
  return r.stdout;
}

/**
 * All facts in one round trip: the facts program on standard input, or, `readOnly`, the program
 * the read-only user's login runs, by name, with nothing on standard input. `audit` (drift) adds the
 * host's deep security audit.
 */
export async function gatherFacts(t: Transport, desired: DesiredState, opts: { readOnly?: boolean; audit?: boolean } = {}): Promise<HostFacts> {
  const audit = { audit: opts.audit === true };
  if (opts.readOnly) return parseFacts(await must(t, 'facts', readOnlyFactsCommand(desired, audit)));
  const probe = factsProbe(desired, audit);
  return parseFacts(await must(t, 'facts', probe.command, probe.script));
}

/** Root's words on a systemd host (sudo, never asking for a password); as-is on the local one. */
export function asRoot(desired: DesiredState, words: readonly string[]): string[] {
  return desired.services === 'systemd' ? ['sudo', '-n', ...words] : [...words];
}
