import { HostError } from '../transport/transport.js';

/** An apply that could not go on, with the host and the step it stopped at. */
export class ApplyError extends HostError {
  override name = 'ApplyError';
}

/** Another apply holds the host's lock. */
export class LockedError extends ApplyError {
  constructor(
    target: string,
    readonly holder: string,
    readonly since: string,
    readonly alive: boolean,
  ) {
    super(
      target,
      'lock',
      alive
        ? `locked by ${holder} since ${since}; try again when it finishes`
        : `locked by ${holder} since ${since}, which is no longer running: break the stale lock with --break-lock`,
    );
    this.name = 'LockedError';
  }
}

/** The person asked before the change said no: nothing was changed, and the lock is released. */
export class NotApprovedError extends Error {
  override name = 'NotApprovedError';
}

/**
 * Ctrl-C or SIGTERM stopped the run. Before the switch it stopped at once and released the lock;
 * during the switch, the activation goes on on the host (see `detached`), which releases the lock
 * itself when it ends.
 */
export class InterruptedError extends ApplyError {
  constructor(
    target: string,
    step: string,
    message: string,
    /** The activation goes on on the host: the lock is its to release. */
    readonly detached = false,
  ) {
    super(target, step, message);
    this.name = 'InterruptedError';
  }
}
