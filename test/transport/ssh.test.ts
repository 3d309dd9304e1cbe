// SshTransport against a real Debian host (systemd, OpenSSH) booted by startTestHost. No host, no
// pass: if the host does not come up, before() throws and every test here fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { hostKeyFingerprint, SshTransport, type SshConnectOptions } from '../../src/transport/ssh.js';
import { TransportError } from '../../src/transport/transport.js';
import { startTestHost, type TestHost } from '../support/testhost.js';
import { ATOMIC_READER } from '../support/atomic-reader.js';
import { relayProxyCommand } from '../support/relay.js';
import { waitUntil } from '../support/wait.js';

// A name of this run's own: startTestHost first stops a host of the same name, which would be
// another run's (two runs of the suite at once) rather than a leftover.
const HOST_NAME = `transport-ssh-${randomBytes(3).toString('hex')}`;

let host: TestHost;
let ssh: SshTransport;
let options: SshConnectOptions;
let scratch: string;

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Asserts that `promise` rejects with a TransportError at `step`, and returns it. */
async function transportError(promise: Promise<unknown>, step: string): Promise<TransportError> {
  const err = await promise.then(
    () => assert.fail(`expected a TransportError at step "${step}", but it succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
  assert.equal(err.step, step, err.message);
  assert.match(err.target, new RegExp(`^${escape(`${host.user}@${host.host}:`)}\\d+$`));
  return err;
}

/** The host's sshd log lines from now on: `since()` returns a function that reads them. Reading
 * them is itself an ssh login (one "Accepted publickey" line of its own). Chosen by sshd's own
 * name (`-t sshd`), not by its unit: journald finds a line's unit from the sender's cgroup, and the
 * process that logs a pre-authentication disconnect has often exited by then, leaving the line with
 * no unit. */
async function journalSince(): Promise<() => Promise<string[]>> {
  const res = await host.run('sudo journalctl --show-cursor -n 0 -q -t sshd');
  const cursor = /-- cursor: (\S+)/.exec(res.stdout)?.[1];
  assert.ok(cursor, `no journal cursor: ${res.stdout}${res.stderr}`);
  return async () => {
    const out = await host.run(`sudo journalctl -q -t sshd --no-pager -o cat --after-cursor='${cursor}'`);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout.split('\n').filter(Boolean);
  };
}

const accepted = (lines: string[]): string[] => lines.filter((l) => l.startsWith('Accepted publickey for '));

before(async () => {
  host = await startTestHost(HOST_NAME);
  scratch = await mkdtemp(join(tmpdir(), 'clawops-ssh-test-'));
  options = {
    host: host.host,
    port: host.port,
    user: host.user,
    privateKey: await readFile(host.privateKeyPath, 'utf8'),
    hostKey: host.knownHostsLine.split(' ').slice(1).join(' '),
  };
  ssh = await SshTransport.connect(options);
});

after(async () => {
  await ssh?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await host?.stop();
});

describe('SshTransport: commands', () => {
  test('exit code, stdout and stderr come back separately', async () => {
    const res = await ssh.run(['bash', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(res, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  test('words arrive as words: quotes, spaces, $ and empty words are not interpreted', async () => {
    const res = await ssh.run(['printf', '[%s]', "it's", 'a b', '$HOME', '', '; rm -rf /tmp/x']);
    assert.deepEqual(res, { code: 0, stdout: "[it's][a b][$HOME][][; rm -rf /tmp/x]", stderr: '' });
  });

  test('1 MiB of binary stdin arrives intact and the stream is closed after it', async () => {
    const data = randomBytes(1024 * 1024);
    const res = await ssh.run(['sha256sum'], { stdin: data });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${sha256(data)}  -\n`);
  });

  test('a script on stdin (bash -s), and UTF-8 output split across many packets decodes intact', async () => {
    const text = 'héllo ✓ 日本\n'.repeat(20_000);
    const res = await ssh.run(['bash', '-s', '--', 'a b', 'c'], { stdin: 'echo "$1|$2"\nprintf done >&2\n' });
    assert.deepEqual(res, { code: 0, stdout: 'a b|c\n', stderr: 'done' });
    const echoed = await ssh.run(['cat'], { stdin: text });
    assert.equal(echoed.stdout, text);
  });

  test('sudo works without a password', async () => {
    assert.deepEqual(await ssh.run(['sudo', '-n', 'true']), { code: 0, stdout: '', stderr: '' });
    assert.equal((await ssh.run(['sudo', '-n', 'id', '-u'])).stdout, '0\n');
  });

  test('a command killed by a signal reports 128 + the signal number, as a shell does', async () => {
    const res = await ssh.run(['bash', '-c', 'kill -TERM $$']);
    assert.equal(res.code, 143);
  });

  test('N sequential commands share one connection (one login on the host)', async () => {
    const journal = await journalSince();
    const fresh = await SshTransport.connect(options);
    const peers = new Set<string>();
    try {
      for (let i = 0; i < 10; i++) {
        assert.equal((await fresh.run(['true'])).code, 0);
        // SSH_CONNECTION holds the client's address and source port: one TCP connection, one port.
        peers.add((await fresh.run(['bash', '-c', 'echo "$SSH_CONNECTION"'])).stdout);
      }
    } finally {
      await fresh.close();
    }
    assert.equal(peers.size, 1, [...peers].join(''));
    // One login for the transport, one for reading the journal.
    assert.equal(accepted(await journal()).length, 2);
  });

  test('a command past its timeout fails with TransportError, is stopped on the host, and the connection stays usable', async () => {
    // bash waits on the sleep: both must go (sshd signals the command's whole process group).
    const err = await transportError(ssh.run(['bash', '-c', 'sleep 31.5; true'], { timeoutMs: 300 }), 'run');
    assert.match(err.message, /timed out after 300 ms/);
    // It is stopped within the sleep's 31.5 s, or not at all: ask until it is gone or has ended by itself.
    const since = Date.now();
    let left = '';
    await waitUntil('the timed-out command to stop on the host', async () => {
      left = (await ssh.run(['pgrep', '-f', '^(sleep 31.5|bash -c sleep 31.5; true)$'])).stdout;
      return left === '';
    });
    assert.ok(Date.now() - since < 31_000, `the timed-out command ran on the host until it ended by itself: ${left}`);
    assert.equal((await ssh.run(['echo', 'still here'])).stdout, 'still here\n');
  });

  test('a timeout that passes before the command has even started still stops it', async () => {
    const since = Date.now();
    await transportError(ssh.run(['sleep', '32.5'], { timeoutMs: 1 }), 'run');
    // It may start on the host after the timeout: then it must be stopped well before its 32.5 s.
    let left = '';
    await waitUntil('the command to be stopped on the host', async () => {
      left = (await ssh.run(['pgrep', '-fx', 'sleep 32.5'])).stdout;
      return left === '';
    });
    assert.ok(Date.now() - since < 32_000, `the command started after its timeout and kept running: ${left}`);
  });

  test('a connection dropped mid-command fails the command with TransportError, not a hang', async () => {
    const doomed = await SshTransport.connect(options);
    const marker = `/tmp/drop-${randomBytes(4).toString('hex')}`;
    const running = doomed.run(['bash', '-c', `touch ${marker}; sleep 30`]);
    // Wait until the command is really running on the host, then cut the wire.
    await waitUntil('the command to run on the host', async () => (await ssh.run(['test', '-e', marker])).code === 0, { intervalMs: 50 });
    doomed.destroySocket();
    const err = await transportError(running, 'run');
    assert.match(err.message, /connection lost/);
    // And the transport says so for every later command.
    await transportError(doomed.run(['true']), 'run');
    await doomed.close();
  });
});

describe('SshTransport: files', () => {
  const dir = '/home/ubuntu/put-test';
  before(async () => {
    assert.equal((await ssh.run(['mkdir', '-p', dir])).code, 0);
  });

  test('creates files with exactly the mode asked for, whatever the umask', async () => {
    await ssh.put([
      { path: `${dir}/secret.env`, content: 'TOKEN=abc\n', mode: 0o600 },
      { path: `${dir}/public.json`, content: '{}\n', mode: 0o644 },
      // sshd's umask (022) would turn 0664 into 0644 if put relied on it.
      { path: `${dir}/group.txt`, content: Buffer.from([0, 1, 2, 255]), mode: 0o664 },
    ]);
    const res = await ssh.run(['stat', '-c', '%n %a %U', `${dir}/secret.env`, `${dir}/public.json`, `${dir}/group.txt`]);
    assert.equal(
      res.stdout,
      `${dir}/secret.env 600 ubuntu\n${dir}/public.json 644 ubuntu\n${dir}/group.txt 664 ubuntu\n`,
    );
    assert.equal((await ssh.run(['cat', `${dir}/secret.env`])).stdout, 'TOKEN=abc\n');
    assert.equal((await ssh.run(['od', '-An', '-tu1', `${dir}/group.txt`])).stdout.trim().split(/\s+/).join(','), '0,1,2,255');
  });

  test('replacing a file takes the new mode (0644 -> 0600 stays 0600) and leaves no temporary files', async () => {
    await ssh.put([{ path: `${dir}/replace.txt`, content: 'one', mode: 0o644 }]);
    await ssh.put([{ path: `${dir}/replace.txt`, content: 'two', mode: 0o600 }]);
    assert.equal((await ssh.run(['stat', '-c', '%a', `${dir}/replace.txt`])).stdout, '600\n');
    assert.equal((await ssh.run(['cat', `${dir}/replace.txt`])).stdout, 'two');
    const listing = (await ssh.run(['ls', '-A', dir])).stdout.split('\n').filter(Boolean);
    assert.deepEqual(listing.filter((name) => name.endsWith('.tmp')), []);
  });

  test('replacement is atomic: a reader on the host never sees a partial or missing file', async () => {
    const file = `${dir}/big.bin`;
    const stop = `${dir}/reader.stop`;
    const versions = [Buffer.alloc(2 * 1024 * 1024, 'a'), Buffer.alloc(2 * 1024 * 1024, 'b')];
    const [a, b] = versions.map(sha256) as [string, string];
    await ssh.put([{ path: file, content: versions[0]!, mode: 0o644 }]);
    const count = `${dir}/reader.count`;
    // Hashes the file over and over until told to stop (or 10 minutes pass), counting its reads in
    // a file: prints "<reads> <bad reads> <saw a> <saw b>".
    const reader = ssh.run(['bash', '-c', ATOMIC_READER, 'reader', file, a, b, stop, count]);
    const reads = async () => Number((await ssh.run(['cat', count])).stdout.trim() || 0);
    for (let i = 1; i <= 30; i++) {
      await ssh.put([{ path: file, content: versions[i % 2]!, mode: 0o644 }]);
      // Two more reads: at least one began after this version was in place, however slow the machine.
      const seen = await reads();
      await waitUntil('the reader to read the new version', async () => (await reads()) >= seen + 2, { intervalMs: 10 });
    }
    await ssh.put([{ path: stop, content: '', mode: 0o644 }]);
    const res = await reader;
    const [total, bad, sawA, sawB] = res.stdout.trim().split(' ').map(Number);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(bad, 0, `${bad} of ${total} reads saw a file that was neither version`);
    assert.deepEqual([sawA, sawB], [1, 1], 'the reader did not see both versions: it did not overlap the writes');
  });

  test('a connection dropped mid-put fails the put with TransportError and leaves the old file', async () => {
    const file = `${dir}/kept.txt`;
    await ssh.put([{ path: file, content: 'old\n', mode: 0o644 }]);
    const doomed = await SshTransport.connect(options);
    const putting = doomed.put([{ path: file, content: Buffer.alloc(256 * 1024 * 1024, 'n'), mode: 0o644 }]);
    // Wait until the new version is being written (its temporary file exists), then cut the wire.
    await waitUntil('the new version to be written', async () => (await ssh.run(['bash', '-c', `ls -A ${dir} | grep -q '^\\.kept\\.txt\\.clawops-'`])).code === 0, { intervalMs: 50 });
    doomed.destroySocket();
    const err = await transportError(putting, 'put');
    assert.match(err.message, new RegExp(`${escape(file)}: connection lost`));
    assert.equal((await ssh.run(['cat', file])).stdout, 'old\n');
    await doomed.close();
  });

  test('a failed put names the path and the reason, never the content', async () => {
    const content = 'SECRET-VALUE-7c1f\n';
    const missing = await transportError(ssh.put([{ path: '/home/ubuntu/no/such/dir/f', content, mode: 0o600 }]), 'put');
    assert.match(missing.message, /\/home\/ubuntu\/no\/such\/dir\/f: No such file/);
    const denied = await transportError(ssh.put([{ path: '/etc/clawops-test', content, mode: 0o600 }]), 'put');
    assert.match(denied.message, /\/etc\/clawops-test: Permission denied/);
    for (const err of [missing, denied]) {
      assert.ok(!err.message.includes('SECRET-VALUE') && !String(err.cause).includes('SECRET-VALUE'));
    }
    await transportError(ssh.put([{ path: 'relative/path', content, mode: 0o600 }]), 'put');
  });
});

describe('SshTransport: connecting', () => {
  test('the pinned key fingerprint matches OpenSSH (ssh-keygen -l)', () => {
    assert.equal(hostKeyFingerprint(options.hostKey), host.hostKeyFingerprint);
  });

  test('a host presenting another key than the pinned one is refused before any login or command', async () => {
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(scratch, 'other_host')]);
    const otherKey = (await readFile(join(scratch, 'other_host.pub'), 'utf8')).trim();
    const journal = await journalSince();

    const err = await transportError(SshTransport.connect({ ...options, hostKey: otherKey }), 'host key');
    assert.match(err.message, new RegExp(`expected ssh-ed25519 ${escape(hostKeyFingerprint(otherKey))}`));
    assert.match(err.message, new RegExp(`offered ssh-ed25519 ${escape(host.hostKeyFingerprint)}`));

    // sshd saw a connection that ended before authentication: no login was attempted, let alone
    // accepted, so no command could have run. (The only login is the one reading the journal.)
    // sshd writes the pre-authentication disconnect a moment after the client is gone.
    const lines = await waitUntil('sshd to log the disconnect', async () => {
      const l = await journal();
      return l.some((x) => /\[preauth\]$/.test(x)) && l;
    });
    assert.ok(lines.some((l) => /\[preauth\]$/.test(l) && l.includes(`from ${runnerSide(host.host)} port`)), lines.join('\n'));
    assert.deepEqual(lines.filter((l) => /authenticating user|Failed publickey|Invalid user/.test(l)), []);
    assert.equal(accepted(lines).length, 1, lines.join('\n'));
  });

  test('a pinned key that is not "<type> <base64>" is refused at step "host key"', async () => {
    await transportError(SshTransport.connect({ ...options, hostKey: 'ssh-ed25519' }), 'host key');
    // The type in front must be the type inside the blob.
    await transportError(SshTransport.connect({ ...options, hostKey: options.hostKey.replace('ssh-ed25519', 'ssh-rsa') }), 'host key');
  });

  test('a private key the host does not know fails at "authenticate", without the key in the error', async () => {
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(scratch, 'stranger')]);
    const stranger = await readFile(join(scratch, 'stranger'), 'utf8');
    const err = await transportError(SshTransport.connect({ ...options, privateKey: stranger }), 'authenticate');
    const body = stranger.split('\n')[1]!;
    assert.ok(!err.message.includes(body) && !String(err.cause).includes(body));
  });

  test('text that is not a private key fails at "authenticate", without echoing it', async () => {
    const err = await transportError(SshTransport.connect({ ...options, privateKey: 'not-a-key-9f3e' }), 'authenticate');
    assert.ok(!err.message.includes('not-a-key-9f3e'));
  });

  test('a closed port fails at "connect"', async () => {
    const err = await transportError(SshTransport.connect({ ...options, port: 1 }), 'connect');
    assert.equal(err.target, `${host.user}@${host.host}:1`);
    assert.match(err.message, /ECONNREFUSED/);
  });
});

describe('SshTransport: through a proxy command', () => {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test('commands and files go over the relay, with %h %p %r expanded; the relay is gone after close', async () => {
    const note = join(scratch, 'relay-note.json');
    const viaRelay = await SshTransport.connect({ ...options, proxyCommand: relayProxyCommand(note) });
    let pid: number;
    try {
      const seen = JSON.parse(await readFile(note, 'utf8')) as { host: string; port: string; user: string; pid: number };
      pid = seen.pid;
      assert.deepEqual({ ...seen, pid: undefined }, { host: host.host, port: String(host.port), user: host.user, pid: undefined });
      assert.ok(alive(pid), 'the relay runs while the transport is open');
      assert.deepEqual(await viaRelay.run(['bash', '-c', 'echo "$USER"; exit 4']), { code: 4, stdout: `${host.user}\n`, stderr: '' });
      const data = randomBytes(300_000);
      await viaRelay.put([{ path: '/tmp/clawops-via-relay.bin', content: data, mode: 0o600 }]);
      assert.equal((await viaRelay.run(['sha256sum', '/tmp/clawops-via-relay.bin'])).stdout.split(' ')[0], sha256(data));
    } finally {
      await viaRelay.close();
    }
    await waitUntil('the relay to end', () => !alive(pid), { ceilingMs: 5_000 });
  });

  test('a relay that dies in the middle of a command: the error says what it said', async () => {
    const note = join(scratch, 'relay-dies.json');
    const viaRelay = await SshTransport.connect({ ...options, proxyCommand: relayProxyCommand(note) });
    try {
      const { pid } = JSON.parse(await readFile(note, 'utf8')) as { pid: number };
      const running = viaRelay.run(['sleep', '60.4711']);
      // The command has started once sleep shows on the host.
      await waitUntil('sleep to run on the host', async () => (await viaRelay.run(['pgrep', '-fx', 'sleep 60.4711'])).code === 0, { ceilingMs: 10_000 });
      process.kill(pid, 'SIGTERM');
      const err = await transportError(running, 'run');
      assert.match(err.message, /'sleep 60.4711': connection lost.*; proxy command exited 143: relay: session terminated$/);
      const after = await transportError(viaRelay.run(['true']), 'run');
      assert.match(after.message, /connection lost; proxy command exited 143: relay: session terminated$/);
    } finally {
      await viaRelay.close();
    }
  });

  test('the host key is still pinned through a relay', async () => {
    const otherKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHC784vck7aBgnDuDFFd8N2pw5VtmZaK5vJz1vlW4+eo';
    const err = await transportError(
      SshTransport.connect({ ...options, hostKey: otherKey, proxyCommand: relayProxyCommand(join(scratch, 'relay-hostkey.json')) }),
      'host key',
    );
    assert.match(err.message, /host key mismatch/);
  });

  test('a proxy command that is not installed fails at "connect" with its exit status and stderr, on one line', async () => {
    const err = await transportError(
      SshTransport.connect({ ...options, proxyCommand: 'clawops-no-such-aws ssm start-session --target %h' }),
      'connect',
    );
    assert.match(err.message, /: connect: proxy command exited 127: .*clawops-no-such-aws: not found$/);
    assert.ok(!err.message.includes('\n'), err.message);
  });

  test('a relay that cannot reach the host reports what it said', async () => {
    const err = await transportError(
      SshTransport.connect({ ...options, port: 1, proxyCommand: relayProxyCommand(join(scratch, 'relay-closed.json')) }),
      'connect',
    );
    assert.match(err.message, /proxy command exited 1: relay: connect ECONNREFUSED/);
  });

  test('a token ssh does not know is refused before anything runs', async () => {
    const err = await transportError(SshTransport.connect({ ...options, proxyCommand: 'nc %h %n' }), 'connect');
    assert.match(err.message, /unknown token %n/);
  });
});

/** The runner's address on the host's link (10.213.i.1 for a host at 10.213.i.2): where sshd
 * sees our connections come from. */
function runnerSide(address: string): string {
  return address === '127.0.0.1' ? '127.0.0.1' : address.replace(/\.\d+$/, '.1');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
