// OpenSSH's ProxyCommand for the SSH transport: a command whose standard input and output carry
// the SSH stream (`nc %h %p`, `aws ssm start-session …`). Only the socket differs; host-key pinning
// and authentication happen over it exactly as over TCP.
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { exitCodeOfSignal, shellQuote } from './transport.js';

export interface ProxyTarget {
  host: string;
  port: number;
  user: string;
}

/**
 * The tokens OpenSSH expands in ProxyCommand that mean something here (ssh_config(5), TOKENS):
 * %h the host, %p the port, %r the remote user, %% a percent sign. Values are shell-quoted, which
 * leaves a host name or address as it is. Throws on any other token, as ssh does.
 */
export function expandProxyCommand(command: string, target: ProxyTarget): string {
  return command.replace(/%(.?)/g, (_, token: string) => {
    switch (token) {
      case 'h':
        return shellQuote([target.host]);
      case 'p':
        return String(target.port);
      case 'r':
        return shellQuote([target.user]);
      case '%':
        return '%';
      default:
        throw new TypeError(`unknown token %${token} in the proxy command (known: %h, %p, %r, %%)`);
    }
  });
}

export interface ProxyProcess {
  /** The command's stdout (what the host sends) and stdin (what we send), as one stream. */
  readonly sock: Duplex;
  /** Settles once the command has exited, with its exit code (128 + n for a signal). */
  readonly exited: Promise<number>;
  /** Why the command failed, once it has exited: "proxy command exited 127: …its stderr…". */
  failure(): string | undefined;
  /** Ends the command and everything it started (its process group). */
  stop(): void;
}

// Enough of the proxy's stderr to explain a failure; a chatty proxy cannot grow it without bound.
const STDERR_KEEP = 4096;

/**
 * Starts the (already expanded) command as OpenSSH does: `exec <command>` through a shell, so no
 * shell lingers between us and the proxy. It runs in a process group of its own, so that stop()
 * also ends what it starts (aws starts session-manager-plugin). Nothing secret goes on its command
 * line: the SSH key never leaves this process, and the stream it carries is encrypted end to end.
 */
export function startProxyCommand(command: string): ProxyProcess {
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });
  let code: number | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      code ??= 127;
      resolve(code);
    });
    child.once('exit', (status, signal) => {
      code = status ?? exitCodeOfSignal(signal);
      resolve(code);
    });
  });
  // Writing to a proxy that has already exited fails with EPIPE: its exit is the news, not that.
  child.stdin.on('error', () => {});
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  sock.on('error', () => {});
  let stopped = false;
  return {
    sock,
    exited,
    failure() {
      if (code === undefined) return undefined;
      const said = stderr
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .join('; ');
      const why = spawnError ? spawnError.message : said || 'no message on its stderr';
      return `proxy command exited ${code}: ${why}`;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      sock.destroy();
      if (code !== undefined || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    },
  };
}
