import type { ProcessSpec } from './desired.js';

/** Exit code OpenClaw (and the proxies) use for an invalid config: restarting cannot help. */
export const EX_CONFIG = 78;

export interface UnitSpec {
  description: string;
  after: string[];
  /** The account a system unit runs as; a user unit (the operator's own manager) has none. */
  user?: string;
  run: ProcessSpec;
  /** notify: the program tells systemd when it is ready (Caddy does); simple otherwise. */
  type?: 'simple' | 'notify';
  /** Capabilities the process keeps (AmbientCapabilities=), such as CAP_NET_BIND_SERVICE for port 443. */
  capabilities?: string[];
  /**
   * A program that drains on SIGTERM (finishes the work it took, refuses new work, then exits): the
   * seconds it may take. The signal then goes to the main process alone (KillMode=mixed), so its
   * workers are not killed under the drain, and its exit by that signal (143) counts as a clean stop.
   */
  drainSeconds?: number;
}

/** A word for ExecStart=: systemd splits on spaces and honours double quotes. */
function execWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, '\\$1')}"`;
}

export function renderUnit(spec: UnitSpec): string {
  const system = spec.user !== undefined;
  // A user manager has no network-online.target, and no PrivateTmp= without user namespaces.
  const after = system ? ['network-online.target', ...spec.after] : spec.after;
  const lines = [
    '# Managed by clawops: edits on the host are reported as drift and replaced by the next apply.',
    '[Unit]',
    `Description=${spec.description}`,
    ...(after.length ? [`After=${after.join(' ')}`, `Wants=${after.join(' ')}`] : []),
    // Give up after 5 failed starts in 5 minutes instead of restarting forever.
    'StartLimitIntervalSec=300',
    'StartLimitBurst=5',
    '',
    '[Service]',
    `Type=${spec.type ?? 'simple'}`,
    ...(system ? [`User=${spec.user}`, `Group=${spec.user}`] : []),
    `WorkingDirectory=${spec.run.cwd}`,
    ...Object.entries(spec.run.environment).map(([k, v]) => `Environment=${execWord(`${k}=${v}`)}`),
    ...(spec.run.environmentFile ? [`EnvironmentFile=${spec.run.environmentFile}`] : []),
    `ExecStart=${spec.run.exec.map(execWord).join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    // An invalid config exits 78: restarting would only loop on the same error.
    `RestartPreventExitStatus=${EX_CONFIG}`,
    ...(spec.drainSeconds ? ['KillMode=mixed', `TimeoutStopSec=${spec.drainSeconds}`, 'SuccessExitStatus=143'] : []),
    ...(spec.capabilities?.length ? [`AmbientCapabilities=${spec.capabilities.join(' ')}`, `CapabilityBoundingSet=${spec.capabilities.join(' ')}`] : []),
    'NoNewPrivileges=yes',
    ...(system ? ['PrivateTmp=yes'] : []),
    '',
    '[Install]',
    `WantedBy=${system ? 'multi-user.target' : 'default.target'}`,
    '',
  ];
  return lines.join('\n');
}
