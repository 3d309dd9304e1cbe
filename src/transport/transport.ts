/**
 * The narrow interface every host is reached through: run a command, put files. One
 * implementation per way of reaching a host (local, ssh). Commands are arrays of words, quoted in
 * exactly one place (shellQuote), so a plan can show the exact commands apply will run.
 */
export type Command = readonly string[];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Fed to the command's standard input: how scripts and secrets travel (never argv). */
  stdin?: string | Buffer;
  timeoutMs?: number;
}

export interface PutFile {
  /** Absolute path on the host. */
  path: string;
  content: string | Buffer;
  /** Octal mode the file is created with (it never exists with looser permissions). */
  mode: number;
}

export interface PutOptions {
  /** Told as the bytes go out: how many of all the files' bytes are sent. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
}

export interface Transport {
  /** Who and where, for messages: "ubuntu@127.0.0.1:2222" or "local". */
  readonly target: string;
  run(command: Command, options?: RunOptions): Promise<RunResult>;
  /** Writes files as the connecting user; parent folders must exist. */
  put(files: readonly PutFile[], options?: PutOptions): Promise<void>;
  close(): Promise<void>;
}

/** A failure on a host, with where and at which step: what every host-side error carries. */
export class HostError extends Error {
  constructor(
    readonly target: string,
    readonly step: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`${target}: ${step}: ${message}`);
    this.name = 'HostError';
  }
}

/** A failure to reach or talk to a host. */
export class TransportError extends HostError {
  override name = 'TransportError';
}

/** POSIX shell quoting: the only place a word becomes shell text. */
export function shellQuote(words: Command): string {
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

// Linux numbering (the hosts clawops manages), for the signals a command is commonly killed by.
const signalNumbers: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, XCPU: 24, XFSZ: 25,
};

/** The exit code a shell reports for a command killed by a signal: 128 + its number (255 when
 * unknown). Takes `SIGKILL` (Node's spelling) or `KILL` (SSH's exit-signal). */
export function exitCodeOfSignal(signal: string | null | undefined): number {
  const n = signal ? signalNumbers[signal.replace(/^SIG/, '')] : undefined;
  return n === undefined ? 255 : 128 + n;
}
