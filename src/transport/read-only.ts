import { TransportError, type Command, type PutFile, type RunOptions, type RunResult, type Transport } from './transport.js';

/**
 * A transport that can only read facts: it runs the one program it was given, with nothing on
 * standard input, and refuses to write a file. What a read-only plan (the read-only facts user's
 * login) may do, held in one place rather than by every caller's care.
 */
export class ReadOnlyTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly program: string,
  ) {}

  get target(): string {
    return this.inner.target;
  }

  run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    if (command[0] !== this.program) return Promise.reject(new TransportError(this.target, 'run', `a read-only plan runs only ${this.program}, not ${command[0] ?? 'nothing'}`));
    if (options.stdin !== undefined) return Promise.reject(new TransportError(this.target, 'run', 'a read-only plan sends nothing on standard input'));
    return this.inner.run(command, options);
  }

  put(_files: readonly PutFile[]): Promise<void> {
    return Promise.reject(new TransportError(this.target, 'put', 'a read-only plan writes no file'));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
