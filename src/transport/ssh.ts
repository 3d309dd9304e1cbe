// The SSH adapter: the only importer of node-ssh (and, through it, ssh2). It translates their errors
// into TransportError with the step that failed. ssh2 ships no types and @types/ssh2 is not a
// dependency, so the few ssh2 objects used here are described by the small interfaces at the end.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import { expandProxyCommand, startProxyCommand, type ProxyProcess } from './proxy-command.js';
import {
  exitCodeOfSignal,
  shellQuote,
  TransportError,
  type Command,
  type PutFile,
  type PutOptions,
  type RunOptions,
  type RunResult,
  type Transport,
} from './transport.js';

export interface SshConnectOptions {
  host: string;
  port: number;
  user: string;
  /** The private key's text (unencrypted OpenSSH or PEM), from a secret. Never logged, never put in
   * an error message. */
  privateKey: string;
  /** The host's public key as pinned in config: `ssh-ed25519 AAAA…` (a trailing comment is
   * ignored). The only key accepted; there is no way to turn the check off. */
  hostKey: string;
  /** OpenSSH's ProxyCommand: a command whose stdin/stdout carry the SSH stream, in place of a TCP
   * connection (%h, %p, %r and %% expanded as ssh does). Killed when the transport closes. */
  proxyCommand?: string;
  /** Bound on TCP connect, SSH handshake and authentication together. Default 20 000 ms. */
  readyTimeoutMs?: number;
  /** TCP_NODELAY, on by default. `false` exists only so bench/ssh.ts can measure what Nagle's
   * algorithm costs (some 40 ms more per command); nothing else should set it. */
  noDelay?: boolean;
}

const DEFAULT_READY_TIMEOUT_MS = 20_000;
// A peer that vanishes without a FIN/RST (host powered off, network cut) is noticed within ~1 min
// instead of a command waiting forever.
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;
// How long a timed-out command has between TERM and KILL.
const KILL_GRACE_MS = 2_000;
// SFTP writes in flight per file: enough to keep the link busy without buffering a whole file.
const WRITE_CHUNK = 64 * 1024;
const WRITES_IN_FLIGHT = 16;

/**
 * One SSH connection to one host, opened once and reused for every command and file of a run.
 * Commands travel as `shellQuote(words)`; files through one SFTP session, written atomically.
 */
export class SshTransport implements Transport {
  readonly target: string;
  readonly #ssh: NodeSSH;
  readonly #client: Ssh2Client;
  readonly #sock: Duplex;
  readonly #proxy: ProxyProcess | undefined;
  #sftp: Promise<SftpSession> | undefined;
  #closed = false;
  #lost = false;
  #lastError: Error | undefined;

  private constructor(target: string, ssh: NodeSSH, client: Ssh2Client, sock: Duplex, proxy: ProxyProcess | undefined) {
    this.target = target;
    this.#ssh = ssh;
    this.#client = client;
    this.#sock = sock;
    this.#proxy = proxy;
    // Every run in flight listens for 'close'; many may run at once over the one connection.
    client.setMaxListeners(0);
    // After 'ready' node-ssh no longer listens for errors; without this one an error (keepalive
    // timeout, a reset) would be thrown as an uncaught exception. Runs learn of it through 'close'.
    client.on('error', (err) => (this.#lastError = err));
    client.on('close', () => (this.#lost = true));
  }

  /** Opens the connection: TCP (TCP_NODELAY on) or the proxy command, then the SSH handshake,
   * where the host must present exactly the pinned key, then public-key authentication as `user`. */
  static async connect(options: SshConnectOptions): Promise<SshTransport> {
    const target = `${options.user}@${options.host}:${options.port}`;
    const pinned = parsePublicKey(options.hostKey);
    if (!pinned) {
      throw new TransportError(target, 'host key', 'the pinned host key is not a public key of the form "<type> <base64>"');
    }
    const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    let proxy: ProxyProcess | undefined;
    let sock: Duplex;
    if (options.proxyCommand === undefined) {
      sock = await openSocket(target, options.host, options.port, readyTimeoutMs, options.noDelay ?? true);
    } else {
      let command: string;
      try {
        command = expandProxyCommand(options.proxyCommand, options);
      } catch (err) {
        throw new TransportError(target, 'connect', messageOf(err), err);
      }
      proxy = startProxyCommand(command);
      sock = proxy.sock;
    }

    let offered: Buffer | undefined;
    let refused = false;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        sock,
        username: options.user,
        privateKey: options.privateKey,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        // Ask only for the pinned key's type, so a host that also has other host keys presents the
        // one we know rather than whichever it prefers.
        algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
        // Called during key exchange with the raw host key blob, before ssh2 sends anything of
        // authentication: returning false ends the connection there.
        hostVerifier: (key: Buffer) => {
          offered = key;
          refused = !sameBytes(key, pinned.blob);
          return !refused;
        },
      });
    } catch (err) {
      ssh.dispose();
      sock.destroy();
      const error = connectError(err, target, pinned, refused ? offered : undefined, readyTimeoutMs);
      if (proxy) {
        // A stream that ended is the proxy's doing: its exit status and stderr say why. The stream
        // ends a moment before the exit status arrives.
        if (error.step === 'connect') await Promise.race([proxy.exited, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
        const failure = proxy.failure();
        proxy.stop();
        if (error.step === 'connect' && failure) throw new TransportError(target, 'connect', failure, err);
      }
      throw error;
    }
    const client = ssh.connection as Ssh2Client | null;
    if (!client) {
      sock.destroy();
      proxy?.stop();
      throw new TransportError(target, 'connect', 'the connection closed right after authentication');
    }
    return new SshTransport(target, ssh, client, sock, proxy);
  }

  run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    const what = describeCommand(command);
    if (this.#closed) return Promise.reject(new TransportError(this.target, 'run', `${what}: transport is closed`));
    if (this.#lost || !this.#ssh.isConnected()) {
      return Promise.reject(new TransportError(this.target, 'run', `${what}: connection lost${this.#proxySaid()}`, this.#lastError));
    }
    const { stdin, timeoutMs } = options;
    const client = this.#client;

    return new Promise<RunResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let channel: ExecChannel | undefined;
      let done = false;
      const finish = (settle: () => void): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        client.removeListener('close', onLost);
        settle();
      };
      const fail = (message: string, cause?: unknown): void =>
        finish(() => reject(new TransportError(this.target, 'run', `${what}: ${message}`, cause)));
      const onLost = (): void =>
        void this.#whyLost().then((why) => fail(`connection lost while the command was running${why}`, this.#lastError));
      client.once('close', onLost);

      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (channel) stopCommand(channel);
              fail(`timed out after ${timeoutMs} ms`);
            }, timeoutMs);

      this.#ssh
        .execCommand(shellQuote(command), {
          noTrim: true,
          // A Buffer goes through a stream (node-ssh writes only strings itself).
          ...(stdin === undefined ? {} : { stdin: typeof stdin === 'string' ? stdin : Readable.from([stdin]) }),
          onChannel: (c: ExecChannel) => {
            channel = c;
            // Writing stdin to a command that has already exited can error on the channel; the
            // outcome is the command's exit status, reported below.
            c.on('error', () => {});
            // Timed out before the channel even opened: the command must not run on regardless.
            if (done) stopCommand(c);
          },
          // Raw chunks, decoded once at the end: a chunk boundary may split a UTF-8 character.
          onStdout: (chunk: Buffer) => stdout.push(chunk),
          onStderr: (chunk: Buffer) => stderr.push(chunk),
        })
        .then(
          (res) => {
            if (res.code === null && res.signal === null) {
              // The channel closed without an exit status: the connection went away under it.
              void this.#whyLost().then((why) =>
                fail(`the command ended without an exit status (connection lost)${why}`, this.#lastError),
              );
              return;
            }
            finish(() =>
              resolve({
                code: res.code ?? exitCodeOfSignal(res.signal),
                stdout: Buffer.concat(stdout).toString('utf8'),
                stderr: Buffer.concat(stderr).toString('utf8'),
              }),
            );
          },
          (err: unknown) => fail(`could not start the command: ${messageOf(err)}`, err),
        );
    });
  }

  async put(files: readonly PutFile[], options: PutOptions = {}): Promise<void> {
    if (this.#closed) throw new TransportError(this.target, 'put', 'transport is closed');
    if (this.#lost) throw new TransportError(this.target, 'put', `connection lost${this.#proxySaid()}`, this.#lastError);
    if (files.length === 0) return;
    for (const file of files) {
      if (!path.posix.isAbsolute(file.path)) {
        throw new TransportError(this.target, 'put', `${file.path}: not an absolute path`);
      }
    }
    let current: string | undefined;
    const work = (async () => {
      let sftp: SftpSession;
      try {
        sftp = await this.#sftpSession();
      } catch (err) {
        throw new TransportError(this.target, 'put', `cannot open an SFTP session: ${messageOf(err)}`, err);
      }
      const total = files.reduce((n, f) => n + (typeof f.content === 'string' ? Buffer.byteLength(f.content) : f.content.length), 0);
      let done = 0;
      for (const file of files) {
        current = file.path;
        try {
          const before = done;
          await putAtomically(sftp, file, options.onProgress && ((sent) => options.onProgress!((done = before + sent), total)));
        } catch (err) {
          // The path and the server's reason only: file contents (secrets) never reach a message.
          throw new TransportError(this.target, 'put', `${file.path}: ${messageOf(err)}`, err);
        }
      }
    })();
    await this.#untilLost(
      work,
      (why) => new TransportError(this.target, 'put', `${current ?? 'SFTP session'}: connection lost${why}`, this.#lastError),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sftp = await this.#sftp?.catch(() => undefined);
    this.#sftp = undefined;
    sftp?.end();
    if (!this.#lost) {
      const gone = new Promise<void>((resolve) => this.#client.once('close', () => resolve()));
      this.#ssh.dispose(); // a polite SSH disconnect
      const timer = setTimeout(() => this.#sock.destroy(), 2_000);
      await gone;
      clearTimeout(timer);
    }
    this.#proxy?.stop();
  }

  /**
   * For tests and fault handling: drops the TCP connection (or ends the proxy command) at once, as
   * a network failure would.
   * Commands in flight then fail with TransportError (step "run"), and the transport is unusable.
   */
  destroySocket(): void {
    this.#sock.destroy();
    this.#proxy?.stop();
  }

  /** "; proxy command exited 255: …its stderr…" once a proxy command that carried the connection
   * has exited, else nothing: when the tunnel dies, what it said is the reason. */
  #proxySaid(): string {
    const failure = this.#proxy?.failure();
    return failure ? `; ${failure}` : '';
  }

  /** #proxySaid() once the proxy command has had a moment to exit: its stdout ends a moment
   * before its exit status arrives. */
  async #whyLost(): Promise<string> {
    const proxy = this.#proxy;
    if (!proxy) return '';
    await Promise.race([proxy.exited, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    return this.#proxySaid();
  }

  /**
   * `work`'s outcome, or `lostError(why)` as soon as the connection is lost: ssh2 leaves SFTP
   * requests in flight unanswered when the connection drops, and they would wait forever.
   */
  #untilLost<T>(work: Promise<T>, lostError: (why: string) => TransportError): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onLost = (): void => void this.#whyLost().then((why) => reject(lostError(why)));
      this.#client.once('close', onLost);
      // Handled in either case: once the loss has been reported, work's own failure is moot.
      work.then(
        (value) => {
          this.#client.removeListener('close', onLost);
          resolve(value);
        },
        (err: unknown) => {
          this.#client.removeListener('close', onLost);
          reject(err);
        },
      );
      if (this.#lost) onLost();
    });
  }

  // One SFTP session for the whole run, opened on first use; opened afresh if the server ends it.
  #sftpSession(): Promise<SftpSession> {
    this.#sftp ??= (this.#ssh.requestSFTP() as Promise<SftpSession>).then(
      (sftp) => {
        sftp.on('error', () => {});
        sftp.on('close', () => (this.#sftp = undefined));
        return sftp;
      },
      (err: unknown) => {
        this.#sftp = undefined;
        throw err;
      },
    );
    return this.#sftp;
  }
}

/** `SHA256:…` as OpenSSH prints it (`ssh-keygen -l`), for a public key given as `type base64`. */
export function hostKeyFingerprint(publicKey: string): string {
  const key = parsePublicKey(publicKey);
  if (!key) throw new TypeError('not a public key of the form "<type> <base64>"');
  return fingerprintOf(key.blob);
}

// --- connecting -----------------------------------------------------------------------------

/** Our own socket rather than ssh2's: ssh2 leaves Nagle's algorithm on, which holds a small packet
 * back until the previous one is ACKed, and the host delays its ACKs. A command's exec request and
 * EOF (or its script and EOF) are such back-to-back packets: bench/ssh.ts measured ~12 ms per
 * run(['true']) with TCP_NODELAY against ~55 ms without (~15 ms against ~88 ms with a script on
 * stdin). */
function openSocket(target: string, host: string, port: number, timeoutMs: number, noDelay: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new TransportError(target, 'connect', `no TCP connection within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(new TransportError(target, 'connect', err.message, err));
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.setNoDelay(noDelay);
      // ssh2 reports socket errors from here on; this keeps one arriving before it listens (or
      // after it stops) from becoming an uncaught exception.
      sock.on('error', () => {});
      resolve(sock);
    });
  });
}

function connectError(
  err: unknown,
  target: string,
  pinned: PublicKey,
  refusedKey: Buffer | undefined,
  readyTimeoutMs: number,
): TransportError {
  if (refusedKey) {
    return new TransportError(
      target,
      'host key',
      `host key mismatch: expected ${pinned.type} ${fingerprintOf(pinned.blob)}, ` +
        `the host offered ${keyTypeOf(refusedKey)} ${fingerprintOf(refusedKey)}; nothing was sent to it`,
      err,
    );
  }
  const message = messageOf(err);
  const level = (err as { level?: unknown } | null)?.level;
  if (level === 'client-authentication') {
    return new TransportError(target, 'authenticate', 'the host refused the private key (publickey authentication failed)', err);
  }
  // ssh2 checks the key before using it; its message names the problem, never the key's text.
  if (/privateKey|private key/i.test(message)) {
    return new TransportError(target, 'authenticate', `unusable private key: ${message}`, err);
  }
  if (/host key|server host key/i.test(message)) {
    return new TransportError(
      target,
      'host key',
      `the host offers no ${pinned.type} host key (pinned ${fingerprintOf(pinned.blob)}): ${message}`,
      err,
    );
  }
  if (level === 'client-timeout') {
    return new TransportError(target, 'connect', `no SSH handshake and login within ${readyTimeoutMs} ms`, err);
  }
  return new TransportError(target, 'connect', message, err);
}

interface PublicKey {
  type: string;
  blob: Buffer;
}

function parsePublicKey(text: string): PublicKey | undefined {
  const [type, base64] = text.trim().split(/\s+/);
  if (!type || !base64) return undefined;
  const blob = Buffer.from(base64, 'base64');
  // The blob names its own type; a key whose two halves disagree is a config mistake.
  return blob.toString('base64') === base64 && keyTypeOf(blob) === type ? { type, blob } : undefined;
}

function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hostKeyAlgorithms(type: string): string[] {
  // An RSA key is the same key under each of its signature algorithms.
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

// --- files ----------------------------------------------------------------------------------

/**
 * Written to a temporary name in the target's own folder, created with the file's mode (so it
 * never exists with looser permissions), synced, then renamed over the target: a reader on the
 * host sees the old file or the new one, never a partial one.
 */
async function putAtomically(sftp: SftpSession, file: PutFile, onSent?: (bytes: number) => void): Promise<void> {
  const data = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
  const dir = path.posix.dirname(file.path);
  const tmp = path.posix.join(dir, `.${path.posix.basename(file.path)}.clawops-${randomBytes(6).toString('hex')}.tmp`);
  // O_CREAT|O_EXCL with the mode: created by the server with at most these permissions.
  const handle = await call<Buffer>((cb) => sftp.open(tmp, 'wx', { mode: file.mode }, cb));
  let renamed = false;
  try {
    let open = true;
    try {
      // The server's umask may have removed bits from the mode; set exactly the mode asked for.
      await call((cb) => sftp.fchmod(handle, file.mode, cb));
      await writeAll(sftp, handle, data, onSent);
      await fsync(sftp, handle);
      open = false;
      await call((cb) => sftp.close(handle, cb));
    } finally {
      if (open) await call((cb) => sftp.close(handle, cb)).catch(() => {});
    }
    await renameOver(sftp, tmp, file.path);
    renamed = true;
  } finally {
    if (!renamed) await call((cb) => sftp.unlink(tmp, cb)).catch(() => {});
  }
}

async function writeAll(sftp: SftpSession, handle: Buffer, data: Buffer, onSent?: (bytes: number) => void): Promise<void> {
  let next = 0;
  let sent = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < data.length) {
      const offset = next;
      next += WRITE_CHUNK;
      const length = Math.min(WRITE_CHUNK, data.length - offset);
      try {
        await call<number>((cb) => sftp.write(handle, data, offset, length, offset, cb));
        onSent?.((sent += length));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, worker));
}

async function fsync(sftp: SftpSession, handle: Buffer): Promise<void> {
  let request: Promise<unknown>;
  try {
    request = call((cb) => sftp.ext_openssh_fsync(handle, cb));
  } catch {
    // ssh2 throws at once when the server lacks fsync@openssh.com (OpenSSH has it since 6.5):
    // the rename is still atomic, only not guaranteed durable across a power cut.
    return;
  }
  await request;
}

/**
 * posix-rename@openssh.com is rename(2): it replaces the target atomically. Plain SFTP v3 RENAME
 * refuses to replace an existing file (OpenSSH implements it with link+unlink for that reason), so
 * where the extension is missing (non-OpenSSH servers; OpenSSH has had it since 4.8) the only way
 * over an existing file is to unlink it first: a reader may then briefly find no file, but still
 * never a partial one.
 */
async function renameOver(sftp: SftpSession, from: string, to: string): Promise<void> {
  let request: Promise<unknown> | undefined;
  try {
    request = call((cb) => sftp.ext_openssh_rename(from, to, cb));
  } catch {
    request = undefined;
  }
  if (request) {
    await request;
    return;
  }
  await call((cb) => sftp.unlink(to, cb)).catch((err: { code?: unknown }) => {
    if (err?.code !== SFTP_NO_SUCH_FILE) throw err;
  });
  await call((cb) => sftp.rename(from, to, cb));
}

const SFTP_NO_SUCH_FILE = 2;

/** Calls a callback-style ssh2 method. Throws synchronously when ssh2 does (unsupported extension). */
function call<T = void>(start: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  let settle!: (err: Error | null | undefined, value?: T) => void;
  const promise = new Promise<T>((resolve, reject) => {
    settle = (err, value) => (err ? reject(err) : resolve(value as T));
  });
  start(settle);
  return promise;
}

/**
 * Ends a command that ran out of time. sshd delivers a signal to the command's whole process
 * group (killpg), so what it started goes too. TERM first: sudo relays it to its command (it
 * cannot relay KILL, and a root command is out of our user's reach); KILL if the command is still
 * there after a grace period; then the channel is closed.
 */
function stopCommand(channel: ExecChannel): void {
  sendSignal(channel, 'TERM');
  const kill = setTimeout(() => {
    sendSignal(channel, 'KILL');
    channel.close();
  }, KILL_GRACE_MS);
  kill.unref();
  channel.once('close', () => clearTimeout(kill));
}

/**
 * ssh2's own channel.signal() sends nothing once the command's stdin is at EOF (it requires the
 * channel to be still writable), though SSH allows a signal request until the channel closes; so
 * the request goes through ssh2's protocol object, one level down.
 */
function sendSignal(channel: ExecChannel, name: string): void {
  const { outgoing } = channel;
  const protocol = channel._client?._protocol;
  if ((outgoing.state !== 'open' && outgoing.state !== 'eof') || typeof protocol?.signal !== 'function') return;
  try {
    protocol.signal(outgoing.id, name);
  } catch {
    // The connection is going away; the command dies with its session.
  }
}

// --- messages -------------------------------------------------------------------------------

function describeCommand(command: Command): string {
  const text = shellQuote(command);
  return `'${text.length > 80 ? `${text.slice(0, 77)}...` : text}'`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// --- the parts of ssh2 used here (ssh2 ships no types) --------------------------------------

interface Ssh2Client {
  on(event: 'error', listener: (err: Error & { level?: string }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
  setMaxListeners(n: number): unknown;
}

interface ExecChannel {
  close(): void;
  outgoing: { id: number; state: string };
  _client?: { _protocol?: { signal?: (channelId: number, name: string) => void } };
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;

interface SftpSession {
  open(path: string, flags: string, attrs: { mode: number }, cb: Callback<Buffer>): void;
  fchmod(handle: Buffer, mode: number, cb: Callback): void;
  write(handle: Buffer, data: Buffer, offset: number, length: number, position: number, cb: Callback<number>): void;
  close(handle: Buffer, cb: Callback): void;
  unlink(path: string, cb: Callback): void;
  rename(from: string, to: string, cb: Callback): void;
  ext_openssh_rename(from: string, to: string, cb: Callback): void;
  ext_openssh_fsync(handle: Buffer, cb: Callback): void;
  end(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}
