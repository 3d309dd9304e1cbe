import { createInterface } from 'node:readline';

/** Where a command's words go: one place, so tests can capture everything that leaves the process. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Only when stdin and stdout are terminals: asks, and resolves to the answer ('' on end of input, Ctrl-C or an abort). */
  ask?(question: string, signal?: AbortSignal): Promise<string>;
  /** Only when stderr is a terminal: one line redrawn in place under the output. */
  status?(text: string): void;
}

// The status line now on stderr: cleared before anything else is written, so it never mixes in.
let shown = '';
const clearStatus = () => {
  if (!shown) return;
  process.stderr.write('\r\x1b[2K');
  shown = '';
};
const writer = (stream: NodeJS.WriteStream) => (text: string) => {
  clearStatus();
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
};

function ask(question: string, signal?: AbortSignal): Promise<string> {
  clearStatus();
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) => {
    let answer = '';
    // Ctrl-C or Ctrl-D at the question is a no: the command then ends the way it ends on "no".
    rl.on('SIGINT', () => rl.close());
    // A signal from outside (SIGTERM) closes the question too, so the terminal is given back.
    signal?.addEventListener('abort', () => rl.close(), { once: true });
    rl.on('close', () => {
      if (!answer) process.stdout.write('\n');
      resolve(answer);
    });
    rl.question(question, (a) => {
      answer = a;
      rl.close();
    });
  });
}

export const processOutput: Output = {
  out: writer(process.stdout),
  err: writer(process.stderr),
  ...(process.stdin.isTTY && process.stdout.isTTY ? { ask } : {}),
  ...(process.stderr.isTTY
    ? {
        status(text: string) {
          const line = text.slice(0, Math.max(20, (process.stderr.columns || 80) - 1));
          if (line === shown) return;
          process.stderr.write(`\r\x1b[2K${line}`);
          shown = line;
        },
      }
    : {}),
};

/** What long steps report: a step is a line; a status (bytes sent, seconds waited) only redraws on a terminal. */
export interface Progress {
  step(line: string): void;
  status(text: string): void;
}

/**
 * The one progress writer: each step a line on stderr with the seconds since the start (so stdout
 * stays the result); on a terminal, what a long step is doing redrawn in place beneath, and
 * nothing of it elsewhere (CI logs keep one line per step).
 */
export function progressWriter(output: Output, quiet = false, now: () => number = Date.now): Progress {
  const started = now();
  const at = () => `[${((now() - started) / 1000).toFixed(1).padStart(5)}s]`;
  if (quiet) return { step: () => {}, status: () => {} };
  return {
    step: (line) => output.err(`${at()} ${line}`),
    status: (text) => output.status?.(`${at()} ${text}`),
  };
}
