// EC2 Instance Connect over real HTTP: the SDK adapter against a local stand-in that checks the
// SigV4 signature and the documented validation, and a login to a real test host with the key a
// run makes and pushes (the stand-in installs it on the host, as the instance's agent does).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { InstanceConnectError, pushFreshKey, type PushKeyRequest } from '../../src/aws/instance-connect.js';
import { SdkInstanceConnect } from '../../src/aws/instance-connect-sdk.js';
import { ephemeralEd25519Key } from '../../src/transport/ephemeral-key.js';
import { SshTransport } from '../../src/transport/ssh.js';
import {
  startInstanceConnectStandIn,
  TEST_ACCESS_KEY_ID,
  TEST_SECRET_ACCESS_KEY,
  type InstanceConnectStandIn,
} from '../support/instance-connect-standin.js';
import { clawops, scratchRepo } from '../support/cli.js';
import { startTestHost, type TestHost } from '../support/testhost.js';
import { waitUntil } from '../support/wait.js';

// A name of this run's own: startTestHost first stops a host of the same name, which would be
// another run's (two runs of the suite at once) rather than a leftover.
const HOST_NAME = `eic-login-${randomBytes(3).toString('hex')}`;

const REGION = 'us-east-2';
const INSTANCE = 'i-0123456789abcdef0';
let standIn: InstanceConnectStandIn;
let host: TestHost | undefined;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clawops-eic-'));
  standIn = await startInstanceConnectStandIn({
    region: REGION,
    instances: [INSTANCE],
    // As the ec2-instance-connect package makes a pushed key usable by sshd for its user.
    onPush: async (key) => {
      if (!host) return;
      const res = await host.run('cat >> ~/.ssh/authorized_keys', { input: `${key.publicKey}\n` });
      assert.equal(res.code, 0, res.stderr);
    },
  });
  // The SDK's own chain, as on a runner: credentials and the endpoint from the environment.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT: standIn.url,
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
});

after(async () => {
  await standIn?.close();
  await host?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const request = (over: Partial<PushKeyRequest> = {}): PushKeyRequest => ({
  instanceId: INSTANCE,
  osUser: 'ubuntu',
  publicKey: ephemeralEd25519Key().publicKey,
  ...over,
});

async function refusal(promise: Promise<unknown>): Promise<InstanceConnectError> {
  const err = await promise.then(
    () => assert.fail('expected EC2 Instance Connect to refuse'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InstanceConnectError, String(err));
  assert.ok(!err.message.includes('\n'), err.message);
  return err;
}

describe('a fresh key per run', () => {
  test('is an ed25519 pair in OpenSSH format: ssh-keygen derives the same public key from the private one', async () => {
    const key = ephemeralEd25519Key('clawops@test');
    const file = join(scratch, 'fresh');
    await writeFile(file, key.privateKey, { mode: 0o600 });
    const { stdout } = await promisify(execFile)('ssh-keygen', ['-y', '-f', file]);
    assert.equal(stdout.trim(), key.publicKey);
    assert.notEqual(ephemeralEd25519Key().publicKey, key.publicKey);
  });
});

describe('SendSSHPublicKey through the SDK adapter', () => {
  test('a signed, valid request pushes the key for the user, with the availability zone when given', async () => {
    const req = request({ availabilityZone: 'us-east-2a' });
    await new SdkInstanceConnect({ region: REGION }).sendSshPublicKey(req);
    const last = standIn.pushed.at(-1)!;
    assert.deepEqual({ ...last, expiresAt: undefined }, { ...req, expiresAt: undefined });
    assert.deepEqual(standIn.validKeys(INSTANCE, 'ubuntu').at(-1), req.publicKey);
  });

  test('a wrong secret key is refused by the signature check, and the error names the instance', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    try {
      const err = await refusal(new SdkInstanceConnect({ region: REGION }).sendSshPublicKey(request()));
      assert.equal(err.code, 'InvalidSignatureException');
      assert.match(err.message, /^EC2 Instance Connect \(i-0123456789abcdef0\): InvalidSignatureException: /);
      assert.ok(!err.message.includes('not-the-secret'));
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = TEST_SECRET_ACCESS_KEY;
    }
  });

  test('a request signed for another region is refused', async () => {
    const err = await refusal(new SdkInstanceConnect({ region: 'eu-west-1' }).sendSshPublicKey(request()));
    assert.equal(err.code, 'InvalidSignatureException');
  });

  test('an instance that does not exist', async () => {
    const err = await refusal(new SdkInstanceConnect({ region: REGION }).sendSshPublicKey(request({ instanceId: 'i-00000000000000000' })));
    assert.equal(err.code, 'EC2InstanceNotFoundException');
  });

  test('the documented validation: user name pattern, key length, availability zone pattern', async () => {
    const port = new SdkInstanceConnect({ region: REGION });
    assert.match((await refusal(port.sendSshPublicKey(request({ osUser: '9ubuntu' })))).message, /InvalidArgsException: InstanceOSUser must match/);
    assert.match((await refusal(port.sendSshPublicKey(request({ publicKey: 'ssh-ed25519 AAAA' })))).message, /InvalidArgsException: SSHPublicKey must be between 80 and 4096/);
    assert.match((await refusal(port.sendSshPublicKey(request({ availabilityZone: 'nowhere' })))).message, /InvalidArgsException: AvailabilityZone must match/);
    assert.match((await refusal(port.sendSshPublicKey(request({ instanceId: 'i-XYZ0123456' })))).message, /InvalidArgsException: InstanceId must match/);
  });
});

describe('logging in with a pushed key', () => {
  test('a run makes a key, pushes it, and logs in to the host with it; no key is stored', async () => {
    host = await startTestHost(HOST_NAME);
    const privateKey = await pushFreshKey(new SdkInstanceConnect({ region: REGION }), { instanceId: INSTANCE, osUser: host.user });
    const ssh = await SshTransport.connect({
      host: host.host,
      port: host.port,
      user: host.user,
      privateKey,
      hostKey: host.knownHostsLine.split(' ').slice(1).join(' '),
    });
    try {
      assert.deepEqual(await ssh.run(['id', '-un']), { code: 0, stdout: `${host.user}\n`, stderr: '' });
    } finally {
      await ssh.close();
    }
  });
});

describe('sshd asks for pushed keys, as on an instance with ec2-instance-connect', () => {
  test('a pushed key logs in until it expires, and is refused after', async () => {
    host ??= await startTestHost(HOST_NAME);
    // The runner's side of the host's link: where the host's sshd can reach the stand-in.
    const runnerSide = host.host.replace(/\.\d+$/, '.1');
    // 8 s here in place of AWS's 60 s (API_SendSSHPublicKey.html: "The key remains for 60 seconds"):
    // short, yet long enough for a login on a loaded runner.
    const lifetime = 8_000;
    const imds = await startInstanceConnectStandIn({ region: REGION, instances: [INSTANCE], keyLifetimeMs: lifetime, listen: runnerSide, imdsFor: INSTANCE });
    try {
      // The package's AuthorizedKeysCommand asks the instance metadata for the user's active keys;
      // here the stand-in plays the metadata service.
      const script = `#!/bin/sh\nexec curl -fsS -m 5 "${imds.url}/latest/meta-data/managed-ssh-keys/active-keys/$1/"\n`;
      const setup = await host.run(
        [
          'sudo tee /usr/local/bin/clawops-eic-keys >/dev/null',
          'sudo chmod 755 /usr/local/bin/clawops-eic-keys',
          `printf '%s\\n' 'AuthorizedKeysCommand /usr/local/bin/clawops-eic-keys %u' 'AuthorizedKeysCommandUser nobody' | sudo tee /etc/ssh/sshd_config.d/60-eic.conf >/dev/null`,
          'sudo sshd -t',
          'sudo systemctl reload ssh',
        ].join(' && '),
        { input: script },
      );
      assert.equal(setup.code, 0, setup.stderr);
      // sshd re-executes itself on reload and listens again a moment later.
      await waitUntil('sshd to listen again after its reload', async () => (await host!.run('true')).code === 0, { intervalMs: 200, ceilingMs: 30_000 });
      const hostKey = host.knownHostsLine.split(' ').slice(1).join(' ');
      const privateKey = await pushFreshKey(new SdkInstanceConnect({ region: REGION, endpoint: imds.url }), { instanceId: INSTANCE, osUser: host.user });
      const pushedAt = Date.now();
      const options = { host: host.host, port: host.port, user: host.user, privateKey, hostKey };
      const ssh = await SshTransport.connect(options);
      try {
        assert.equal((await ssh.run(['id', '-un'])).stdout, `${host.user}\n`);
      } finally {
        await ssh.close();
      }
      assert.ok(Date.now() - pushedAt < lifetime, 'the first login came within the key\'s lifetime');
      await new Promise((resolve) => setTimeout(resolve, lifetime - (Date.now() - pushedAt) + 500));
      const refused = await SshTransport.connect(options).then(
        async (t) => {
          await t.close();
          return assert.fail('a login with an expired key succeeded');
        },
        (e: unknown) => e as { step?: string; message?: string },
      );
      assert.equal(refused.step, 'authenticate', refused.message);
    } finally {
      await host.run('sudo rm -f /etc/ssh/sshd_config.d/60-eic.conf && sudo systemctl reload ssh');
      await imds.close();
    }
  });
});

describe('clawops plan on ec2 with instanceConnect and via SSM', () => {
  // The session is checked for before a key is pushed; stand-in programs that fail keep the run
  // from reaching any host, and the scratch copy's host is a documentation address (RFC 5737), not
  // the ec2 environment's own.
  async function run(programs: string[], instanceId: string) {
    const repo = await scratchRepo();
    const bin = join(scratch, `bin-${programs.length}`);
    await mkdir(bin, { recursive: true });
    for (const p of programs) {
      await writeFile(join(bin, p), '#!/bin/sh\necho "$0: not really" >&2\nexit 1\n');
      await chmod(join(bin, p), 0o755);
    }
    try {
      const file = join(repo, 'config/environments/ec2.yaml');
      const text = await readFile(file, 'utf8');
      const changed = text
        .replace(/^  host: .*$/m, '  host: 192.0.2.10')
        .replaceAll(/instanceId: i-[0-9a-f]+, region: [a-z0-9-]+/g, `instanceId: ${instanceId}, region: ${REGION}`);
      assert.notEqual(changed, text);
      await writeFile(file, changed);
      const env = Object.fromEntries(
        ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT', 'AWS_EC2_METADATA_DISABLED'].map((k) => [k, process.env[k]!]),
      );
      return await clawops(['plan', '--env', 'ec2', '--root', repo], { env: { ...env, PATH: bin } });
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  }

  test('without the Session Manager plugin, no key is pushed', async () => {
    const before = standIn.pushed.length;
    const res = await run(['aws'], INSTANCE);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /ubuntu@192\.0\.2\.10:22: connect: reaching the host through SSM needs session-manager-plugin/);
    assert.equal(standIn.pushed.length, before);
  });

  test('a push AWS refuses stops the run at "push key", in one line', async () => {
    const res = await run(['aws', 'session-manager-plugin'], 'i-0fffffffffffffff0');
    assert.notEqual(res.code, 0);
    const line = res.stderr.split('\n').find((l) => l.includes('push key'));
    assert.equal(
      line?.replace(/^.*?(ubuntu@)/, '$1'),
      'ubuntu@192.0.2.10:22: push key: EC2 Instance Connect (i-0fffffffffffffff0): EC2InstanceNotFoundException: Instance not found: i-0fffffffffffffff0',
      res.stderr,
    );
    assert.doesNotMatch(res.stderr, /not really/);
  });
});
