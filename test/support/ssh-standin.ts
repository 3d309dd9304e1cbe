/**
 * An SSH server on loopback that runs each command on this machine, as the user running the
 * tests: for CLI tests that need an environment clawops reaches over SSH (a non-local one)
 * without booting a test host. It speaks real SSH (ssh2's server), with its own host key, and
 * accepts only the one client key it was given (RFC 4252 §7: the signature must verify).
 * Files arrive over SFTP with the plain SFTP v3 requests (draft-ietf-secsh-filexfer-02): OPEN,
 * FSETSTAT, WRITE, CLOSE, REMOVE, RENAME; it advertises no OpenSSH extensions, so the client
 * falls back to those.
 */
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { close, fchmod, open, rename, stat, unlink, write } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile as readFileAsync, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import type { Server as NetServer } from 'node:net';
import { scratchRepo } from './cli.js';
import type { Duplex, Writable } from 'node:stream';

// The parts of ssh2's server API used here (ssh2 ships no type declarations).
interface PublicKey {
  type: string;
  getPublicSSH(): Buffer;
  verify(data: Buffer, signature: Buffer, hashAlgo?: string): boolean | Error;
}
interface AuthContext {
  method: string;
  key: { algo: string; data: Buffer };
  signature?: Buffer;
  blob?: Buffer;
  hashAlgo?: string;
  accept(): void;
  reject(methods?: string[]): void;
}
interface ExecStream extends Duplex {
  stderr: Writable;
  exit(code: number): void;
  exit(signal: string, coreDumped: boolean, message: string): void;
}
interface Sftp {
  on(event: 'OPEN', listener: (reqid: number, filename: string, flags: number, attrs: { mode?: number }) => void): void;
  on(event: 'FSETSTAT', listener: (reqid: number, handle: Buffer, attrs: { mode?: number }) => void): void;
  on(event: 'WRITE', listener: (reqid: number, handle: Buffer, offset: number, data: Buffer) => void): void;
  on(event: 'CLOSE', listener: (reqid: number, handle: Buffer) => void): void;
  on(event: 'REMOVE', listener: (reqid: number, path: string) => void): void;
  on(event: 'RENAME', listener: (reqid: number, from: string, to: string) => void): void;
  status(reqid: number, code: number, message?: string): void;
  handle(reqid: number, handle: Buffer): void;
}
interface Session {
  on(event: 'exec', listener: (accept: () => ExecStream, reject: () => void, info: { command: string }) => void): void;
  on(event: 'sftp', listener: (accept: () => Sftp) => void): void;
}
interface Connection {
  on(event: 'authentication', listener: (ctx: AuthContext) => void): void;
  on(event: 'ready', listener: () => void): void;
  on(event: 'session', listener: (accept: () => Session) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
const { Server, utils } = createRequire(import.meta.url)('ssh2') as {
  Server: new (config: { hostKeys: string[] }, onConnection: (conn: Connection) => void) => NetServer;
  utils: {
    parseKey(text: string): PublicKey | Error;
    sftp: { STATUS_CODE: Record<'OK' | 'FAILURE' | 'NO_SUCH_FILE' | 'PERMISSION_DENIED' | 'OP_UNSUPPORTED', number>; flagsToString(flags: number): string | null };
  };
};
const STATUS = utils.sftp.STATUS_CODE;

export interface SshStandin {
  port: number;
  /** "ssh-ed25519 AAAA…": what an environment pins as hostKey. */
  hostKey: string;
  /** The client's private key (OpenSSH format), for the environment's privateKeySecret. */
  clientKey: string;
  /** Every command run, as the shell text received. */
  commands: string[];
  close(): Promise<void>;
}

async function keypair(dir: string, name: string): Promise<{ privateKey: string; publicKey: string }> {
  const file = join(dir, name);
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return { privateKey: await readFileAsync(file, 'utf8'), publicKey: (await readFileAsync(`${file}.pub`, 'utf8')).trim() };
}

export async function startSshStandin(): Promise<SshStandin> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-ssh-standin-'));
  const host = await keypair(dir, 'host');
  const client = await keypair(dir, 'client');
  const allowed = utils.parseKey(client.publicKey);
  if (allowed instanceof Error) throw allowed;
  const commands: string[] = [];

  const server = new Server({ hostKeys: [host.privateKey] }, (conn) => {
    conn.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const same = ctx.key.algo === allowed.type && ctx.key.data.length === allowed.getPublicSSH().length && timingSafeEqual(ctx.key.data, allowed.getPublicSSH());
      if (!same) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do (RFC 4252 §7).
      if (!ctx.signature) return ctx.accept();
      if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          commands.push(info.command);
          const child = spawn('bash', ['-c', info.command], { stdio: ['pipe', 'pipe', 'pipe'] });
          stream.pipe(child.stdin);
          child.stdin.on('error', () => {});
          child.stdout.pipe(stream, { end: false });
          child.stderr.pipe(stream.stderr, { end: false });
          child.on('close', (code, signal) => {
            if (signal) stream.exit(signal.replace(/^SIG/, ''), false, '');
            else stream.exit(code ?? 255);
            stream.end();
          });
          stream.on('close', () => child.kill());
        });
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, number>();
          let next = 0;
          const fdOf = (handle: Buffer) => handles.get(handle.readUInt32BE(0));
          const done = (reqid: number) => (err: NodeJS.ErrnoException | null) =>
            sftp.status(reqid, err ? (err.code === 'ENOENT' ? STATUS.NO_SUCH_FILE : err.code === 'EACCES' ? STATUS.PERMISSION_DENIED : STATUS.FAILURE) : STATUS.OK, err?.message);
          sftp.on('OPEN', (reqid, filename, flags, attrs) => {
            const mode = utils.sftp.flagsToString(flags);
            if (!mode) return sftp.status(reqid, STATUS.OP_UNSUPPORTED);
            open(filename, mode, attrs.mode ?? 0o644, (err, fd) => {
              if (err) return done(reqid)(err);
              const id = next++;
              handles.set(id, fd);
              const handle = Buffer.alloc(4);
              handle.writeUInt32BE(id, 0);
              sftp.handle(reqid, handle);
            });
          });
          sftp.on('FSETSTAT', (reqid, handle, attrs) => {
            const fd = fdOf(handle);
            if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE, 'bad handle');
            if (attrs.mode === undefined) return sftp.status(reqid, STATUS.OK);
            fchmod(fd, attrs.mode & 0o7777, done(reqid));
          });
          sftp.on('WRITE', (reqid, handle, offset, data) => {
            const fd = fdOf(handle);
            if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE, 'bad handle');
            write(fd, data, 0, data.length, offset, (err) => done(reqid)(err));
          });
          sftp.on('CLOSE', (reqid, handle) => {
            const fd = fdOf(handle);
            if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE, 'bad handle');
            handles.delete(handle.readUInt32BE(0));
            close(fd, done(reqid));
          });
          sftp.on('REMOVE', (reqid, path) => unlink(path, done(reqid)));
          // SFTP v3 RENAME does not replace an existing file (draft-ietf-secsh-filexfer-02 §6.5).
          sftp.on('RENAME', (reqid, from, to) =>
            stat(to, (missing: NodeJS.ErrnoException | null) => (missing ? rename(from, to, done(reqid)) : sftp.status(reqid, STATUS.FAILURE, 'target exists'))),
          );
        });
      });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    hostKey: host.publicKey.split(' ').slice(0, 2).join(' '),
    clientKey: client.privateKey,
    commands,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Adds the environment `remote` to a scratch repository: this machine through the stand-in, files
 * only (no services), its state in a fresh folder. Returns the folder and canary values for every
 * secret it needs, the SSH key (REMOTE_SSH_KEY) among them.
 */
export async function remoteEnvironment(root: string, ssh: SshStandin): Promise<{ state: string; secrets: Record<string, string> }> {
  const state = join(await mkdtemp(join(tmpdir(), 'clawops-remote-')), 'state');
  await writeFile(
    join(root, 'config/environments/remote.yaml'),
    `name: remote
description: This machine, reached over SSH as a remote host would be.
target:
  kind: ssh
  host: 127.0.0.1
  port: ${ssh.port}
  user: ${userInfo().username}
  hostKey: ${ssh.hostKey}
  privateKeySecret: REMOTE_SSH_KEY
services: none
paths:
  state: ${state}
  proxies: ${state}/proxies
gateway:
  bind: loopback
secrets:
  source: env
`,
  );
  await appendFile(join(root, 'config/secrets.yaml'), '  REMOTE_SSH_KEY:\n    description: The key clawops reaches the remote test environment with\n');
  const names = ['OPENCLAW_GATEWAY_TOKEN', 'GROQ_API_KEY', 'GEMINI_API_KEY', 'DEEPSEEK_API_KEY', 'CEREBRAS_API_KEY', 'MISTRAL_API_KEY', 'KIMI_API_KEY', 'OPENROUTER_API_KEY'];
  const secrets = Object.fromEntries(names.map((n) => [n, `canary-${n.toLowerCase()}-${randomBytes(6).toString('hex')}`]));
  return { state, secrets };
}

/** A test file's SSH stand-in and scratch repository with the `remote` environment (see remoteEnvironment). */
export interface RemoteFixture {
  ssh: SshStandin;
  root: string;
  /** The remote environment's state folder on this machine. */
  state: string;
  secrets: Record<string, string>;
  /** What the CLI needs to reach it: the secrets, the key, a revision, no colour. */
  env: Record<string, string>;
}

/** Starts one stand-in for the whole test file (before its tests) and stops it after them. */
export function remoteFixture(revision: string): RemoteFixture {
  const f = {} as RemoteFixture;
  before(async () => {
    f.ssh = await startSshStandin();
    f.root = await scratchRepo();
    ({ state: f.state, secrets: f.secrets } = await remoteEnvironment(f.root, f.ssh));
    f.env = { ...f.secrets, REMOTE_SSH_KEY: f.ssh.clientKey, CLAWOPS_REVISION: revision, NO_COLOR: '1' };
  });
  after(async () => {
    await f.ssh?.close();
  });
  return f;
}
