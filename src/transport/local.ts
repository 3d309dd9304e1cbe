import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  exitCodeOfSignal,
  TransportError,
  type Command,
  type PutFile,
  type RunOptions,
  type RunResult,
  type Transport,
} from './transport.js';

/**
 * The machine clawops runs on. Commands are spawned as words, never through a shell: a script runs
 * only when the command itself says so (`['bash', '-c', script]`, or `['bash', '-s']` with the
 * script on stdin), exactly as it would over SSH.
 */
export class LocalTransport implements Transport {
  readonly target = 'local';
  #closed = false;

  run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    if (this.#closed) return Promise.reject(new TransportError(this.target, 'run', 'transport is closed'));
    const [program, ...args] = command;
    if (program === undefined) return Promise.reject(new TransportError(this.target, 'run', 'empty command'));
    const { stdin, timeoutMs } = options;

    return new Promise((resolve, reject) => {
      // Own process group, so that a timeout kills what the command started too (a killed
      // `bash -c` would otherwise leave its children running, holding our pipes open).
      const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        fn();
      };

      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              killGroup(child.pid);
              settle(() =>
                reject(new TransportError(this.target, 'run', `'${program}' timed out after ${timeoutMs} ms`)),
              );
            }, timeoutMs);

      child.stdout.on('data', (b: Buffer) => stdout.push(b));
      child.stderr.on('data', (b: Buffer) => stderr.push(b));
      child.on('error', (err) =>
        settle(() => reject(new TransportError(this.target, 'run', `cannot start '${program}': ${err.message}`, err))),
      );
      child.on('close', (code, signal) =>
        settle(() =>
          resolve({
            code: code ?? exitCodeOfSignal(signal),
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          }),
        ),
      );
      // A command may exit without reading all of its input: EPIPE is then expected, not a failure.
      child.stdin.on('error', () => {});
      child.stdin.end(stdin ?? '');
    });
  }

  async put(files: readonly PutFile[]): Promise<void> {
    if (this.#closed) throw new TransportError(this.target, 'put', 'transport is closed');
    for (const file of files) {
      try {
        await writeAtomically(file);
      } catch (err) {
        // The path and the system's reason only: file contents (secrets) never reach a message.
        throw new TransportError(this.target, 'put', `${file.path}: ${describe(err)}`, err);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * Written to a temporary name in the target's own folder (so the rename stays on one file system),
 * created with the file's mode, synced, then renamed over the target: a reader sees the old file
 * or the new one, never a partial one, and the file never exists with looser permissions.
 */
async function writeAtomically(file: PutFile): Promise<void> {
  const dir = path.dirname(file.path);
  const tmp = path.join(dir, `.${path.basename(file.path)}.clawops-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, file.mode);
  let renamed = false;
  try {
    try {
      // open() applied the umask, which can only have removed bits: set exactly the mode asked for.
      await handle.chmod(file.mode);
      await handle.writeFile(file.content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file.path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => {});
  }
  // Make the rename itself durable: sync the folder's entry list.
  const folder = await open(dir, fsConstants.O_RDONLY);
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
