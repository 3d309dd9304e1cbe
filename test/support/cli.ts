import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/clawops.js, as a user runs it) in a child process, on this Node or `node`. */
export function clawops(args: string[], opts: { cwd?: string; env?: Record<string, string>; node?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      opts.node ?? process.execPath,
      [join(REPO_ROOT, 'bin/clawops.js'), ...args],
      { cwd: opts.cwd ?? REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * A scratch repository holding a copy of the real config, to break on purpose: config/, and
 * supabase/ (the Supabase CLI's project file with the edge function's settings, and its source).
 */
export async function scratchRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-repo-'));
  await cp(join(REPO_ROOT, 'config'), join(dir, 'config'), { recursive: true });
  await cp(join(REPO_ROOT, 'supabase'), join(dir, 'supabase'), { recursive: true });
  await cp(join(REPO_ROOT, 'runtime'), join(dir, 'runtime'), { recursive: true });
  return dir;
}

// Runs a command on a pseudo-terminal (python3's pty module) and types the answer once the
// question is on the screen, or never when none is asked; an answer that names a signal (SIGTERM)
// is sent to the process instead. stdout and stderr arrive together.
const PTY = `
import os, pty, signal, sys
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent = b'', False
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b'Enter a value: ' in out:
        if answer.startswith('SIG'):
            os.kill(pid, getattr(signal, answer))
        else:
            os.write(fd, answer.encode() + b'\\n')
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;

/**
 * What a terminal shows for what a program wrote: a carriage return goes back to the start of the
 * line and an erase (ESC [2K) clears it, so a status line redrawn in place and then cleared leaves
 * nothing behind, as it leaves nothing on a person's screen. Other escapes are dropped.
 */
export function screenOf(written: string): string {
  return written
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      let cells = '';
      let col = 0;
      for (const part of line.split(/(\r|\x1b\[[0-9;]*[A-Za-z])/)) {
        if (part === '\r') col = 0;
        else if (part === '\x1b[2K') cells = '';
        else if (part.startsWith('\x1b[')) continue;
        else {
          cells = cells.slice(0, col).padEnd(col) + part + cells.slice(col + part.length);
          col += part.length;
        }
      }
      return cells.trimEnd();
    })
    .join('\n');
}

/**
 * The built CLI on a terminal, as a person runs it: the screen it leaves (line ends as \\n), and
 * every byte it wrote there (redraws included).
 */
export function clawopsOnTerminal(args: string[], opts: { env?: Record<string, string>; answer?: string } = {}): Promise<{ code: number; screen: string; written: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PTY, opts.answer ?? '', process.execPath, join(REPO_ROOT, 'bin/clawops.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', ...opts.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, screen: screenOf(out), written: out }));
  });
}
