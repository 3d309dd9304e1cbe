/**
 * Reading a client's request body under a size bound. Over the bound the client gets 413, but
 * only after the rest of its upload has been drained (up to a cap): closing the socket while the
 * client is still sending makes most HTTP clients report a reset instead of the 413.
 */
import type { IncomingMessage } from 'node:http';
import { ProxyError } from './proxy-error.js';

/** How much of an oversized upload is read and discarded before the connection is cut. */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;
const DRAIN_CAP_MS = 10_000;

export function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, 'invalid_request_error', 'request_too_large', `request body exceeds the limit of ${limit} bytes`);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ProxyError(499, 'invalid_request_error', 'client_closed', 'the client closed the connection'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('aborted', onClose);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onClose);
    req.once('aborted', onClose);
  });
}

/** Discards the rest of an upload so the error response can be read; cuts it off past the cap. */
export function drainBody(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) {
      resolve();
      return;
    }
    let seen = 0;
    const finish = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > DRAIN_CAP_BYTES) {
        req.socket.destroy();
        finish();
      }
    };
    const timer = setTimeout(() => {
      req.socket.destroy();
      finish();
    }, DRAIN_CAP_MS);
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.resume();
  });
}
