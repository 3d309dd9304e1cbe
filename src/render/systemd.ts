/** Exit code OpenClaw (and the proxies) use for an invalid config: restarting cannot help. */
export const EX_CONFIG = 78;

export interface UnitSpec {
  description: string;
  after: string[];
  user: string;
  workingDirectory: string;
  environment: Record<string, string>;
  environmentFile: string;
  /** Words of the command; the program and its arguments, never a secret. */
  exec: string[];
}

/** A word for ExecStart=: systemd splits on spaces and honours double quotes. */
function execWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, '\\$1')}"`;
}

export function renderUnit(spec: UnitSpec): string {
  const after = ['network-online.target', ...spec.after];
  const lines = [
    '# Managed by clawops: edits on the host are reported as drift and replaced by the next apply.',
    '[Unit]',
    `Description=${spec.description}`,
    `After=${after.join(' ')}`,
    `Wants=${after.join(' ')}`,
    // Give up after 5 failed starts in 5 minutes instead of restarting forever.
    'StartLimitIntervalSec=300',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `User=${spec.user}`,
    `Group=${spec.user}`,
    `WorkingDirectory=${spec.workingDirectory}`,
    ...Object.entries(spec.environment).map(([k, v]) => `Environment=${execWord(`${k}=${v}`)}`),
    `EnvironmentFile=${spec.environmentFile}`,
    `ExecStart=${spec.exec.map(execWord).join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    // An invalid config exits 78: restarting would only loop on the same error.
    `RestartPreventExitStatus=${EX_CONFIG}`,
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
