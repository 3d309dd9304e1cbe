/**
 * The one place that talks to the provider. node:http(s) with keep-alive agents rather than global
 * fetch: it adds less latency per request (the proxy's budget is about a millisecond) and gives the
 * raw byte stream, which SSE forwarding wants.
 *
 * Timeouts: `timeoutMs` bounds the wait for the response headers and every silence between body
 * chunks after that, so a long stream that keeps producing is never cut, but a stalled one is.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { ProxyError } from './proxy-error.js';
import type { UpstreamCall } from './provider.js';

// Idle pooled sockets are dropped after 30 s, before the providers' own idle limits close them
// under us; the timeout does not touch a socket that is carrying a request.
const agents = {
  'http:': new http.Agent({ keepAlive: true, keepAliveMsecs: 10_000, timeout: 30_000 }),
  'https:': new https.Agent({ keepAlive: true, keepAliveMsecs: 10_000, timeout: 30_000 }),
};

/** Why an upstream request was aborted; carried as the AbortSignal's reason. */
export class AbortCause extends Error {
  constructor(readonly why: 'timeout' | 'client_closed') {
    super(why);
    this.name = 'AbortCause';
  }
}

/** Aborts the request when no progress was seen for `ms`. `touch()` on each sign of progress. */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly controller: AbortController,
  ) {
    this.touch();
  }
  touch(): void {
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.controller.abort(new AbortCause('timeout')), this.ms);
  }
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/**
 * Sends the call; resolves once the response headers are in. Errors become ProxyError. A request
 * that fails on a reused keep-alive socket before any answer (the upstream had just closed it) is
 * sent once more on a fresh one, rather than reported as an unreachable upstream.
 */
export function sendUpstream(call: UpstreamCall, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(call.url);
    } catch {
      reject(new ProxyError(502, 'upstream_error', 'upstream_bad_url', 'the configured upstream URL is not usable'));
      return;
    }
    const lib = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const attempt = (retry: boolean): void => {
      const req = lib.request(url, {
        method: 'POST',
        agent,
        signal,
        headers: {
          ...call.headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(call.body)),
          // Plain bytes: the proxy reads SSE as it arrives and has no reason to decompress.
          'accept-encoding': 'identity',
        },
      });
      req.once('response', resolve);
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (retry && req.reusedSocket && !signal.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) attempt(false);
        else reject(translateRequestError(err, signal));
      });
      // A string body goes out in one write together with the headers (a Buffer would take writev).
      req.end(call.body);
    };
    attempt(true);
  });
}

/** Maps a failed request to the status the gateway's failover expects. */
export function translateRequestError(err: unknown, signal: AbortSignal): ProxyError {
  if (signal.aborted) {
    const reason = signal.reason;
    if (reason instanceof AbortCause && reason.why === 'timeout') {
      return new ProxyError(504, 'timeout_error', 'upstream_timeout', 'the upstream did not answer in time');
    }
    return new ProxyError(499, 'upstream_error', 'client_closed', 'the client closed the connection');
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  return new ProxyError(502, 'upstream_error', 'upstream_unreachable', `could not reach the upstream (${code})`);
}

/**
 * Calls `onChunk` for each body chunk as it arrives; resolves at the end of a complete body.
 * Events rather than `for await`: the async iterator destroys the response when done, which
 * closes the keep-alive socket and costs a new connection per request. `onChunk` may return a
 * promise to hold further reading (backpressure).
 */
export function readUpstream(res: IncomingMessage, deadline: Deadline, signal: AbortSignal, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void => {
      cleanup();
      reject(translateRequestError(err, signal));
    };
    const onData = (chunk: Buffer): void => {
      deadline.touch();
      let held: void | Promise<void>;
      try {
        held = onChunk(chunk);
      } catch (err) {
        cleanup();
        res.destroy();
        reject(err);
        return;
      }
      if (held) {
        res.pause();
        held.then(
          () => res.resume(),
          (err: unknown) => {
            cleanup();
            res.destroy();
            reject(err);
          },
        );
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve();
    };
    // `close` without `end`: the upstream went away mid-body.
    const onClose = (): void => {
      if (!res.complete) fail(Object.assign(new Error('closed mid-body'), { code: 'ECONNRESET' }));
    };
    const cleanup = (): void => {
      res.off('data', onData);
      res.off('end', onEnd);
      res.off('error', fail);
      res.off('close', onClose);
    };
    res.on('data', onData);
    res.once('end', onEnd);
    res.once('error', fail);
    res.once('close', onClose);
  });
}

/** Reads a whole upstream body (a JSON answer or an error). */
export async function readUpstreamBody(res: IncomingMessage, deadline: Deadline, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  await readUpstream(res, deadline, signal, (chunk) => {
    chunks.push(chunk);
  });
  return Buffer.concat(chunks).toString('utf8');
}
