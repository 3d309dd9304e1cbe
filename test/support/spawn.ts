import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit code; 255 for a process ended by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end without blocking this process (a server in it may be what the command
 * talks to), `input` on its standard input; rejects only when it cannot be started, or, with
 * `timeoutMs`, when it has not ended by then (it is killed, and the error carries its last stderr).
 */
export function runCommand(command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${command} ${args.join(' ')}: timed out after ${opts.timeoutMs} ms\n${stderr.trimEnd().split('\n').slice(-60).join('\n')}`));
          }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}
