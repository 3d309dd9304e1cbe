import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit code; 255 for a process ended by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end without blocking this process (a server in it may be what the command
 * talks to), `input` on its standard input; rejects only when it cannot be started.
 */
export function runCommand(command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}
