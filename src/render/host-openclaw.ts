import type { DesiredState } from './desired.js';

const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * The release's OpenClaw on a systemd host, as the gateway runs it: as the gateway's user, with
 * the gateway's own environment file loaded (its token never on a command line), its state folder
 * and config, in that folder: what an operator would type there. The words run one OpenClaw
 * subcommand, given after them; null where clawops does not install OpenClaw on a systemd host.
 */
export function hostOpenclawCommand(desired: DesiredState, args: readonly string[]): string[] | null {
  const runtime = desired.host.runtime;
  const config = desired.files.find((f) => f.role === 'openclaw-config');
  const env = desired.files.find((f) => f.name === 'gateway.env');
  if (desired.services !== 'systemd' || !runtime?.openclaw || !config || !env) return null;
  const state = config.path.replace(/\/[^/]+$/, '');
  const script =
    `set -a; . ${q(env.path)}; set +a; ` +
    `export OPENCLAW_STATE_DIR=${q(state)} OPENCLAW_CONFIG_PATH=${q(config.path)} NO_COLOR=1; ` +
    `cd "$OPENCLAW_STATE_DIR" && exec ${q(runtime.node.bin)} ${q(runtime.openclaw.entry)} "$@"`;
  const user = desired.host.user;
  return [...(user ? ['sudo', '-n', '-u', user, '-H'] : []), 'bash', '-c', script, 'openclaw', ...args];
}

/** OpenClaw's deep security audit, as JSON: it reads the config the gateway runs and probes the live gateway. */
export const DEEP_AUDIT_ARGS = ['security', 'audit', '--deep', '--json'] as const;
