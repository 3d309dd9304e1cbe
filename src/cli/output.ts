import { createInterface } from 'node:readline';

/** Where a command's words go: one place, so tests can capture everything that leaves the process. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Only when stdin and stdout are terminals: asks, and resolves to the answer ('' on end of input or Ctrl-C). */
  ask?(question: string): Promise<string>;
}

const writer = (stream: NodeJS.WriteStream) => (text: string) => {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
};

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) => {
    let answer = '';
    // Ctrl-C or Ctrl-D at the question is a no: the command then ends the way it ends on "no".
    rl.on('SIGINT', () => rl.close());
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
};

/** What long steps report: a step is a line. */
export interface Progress {
  step(line: string): void;
}

/** The one progress writer: each step a line on stderr with the seconds since the start (so stdout stays the result). */
export function progressWriter(output: Output, quiet = false, now: () => number = Date.now): Progress {
  const started = now();
  const at = () => `[${((now() - started) / 1000).toFixed(1).padStart(5)}s]`;
  if (quiet) return { step: () => {} };
  return { step: (line) => output.err(`${at()} ${line}`) };
}
