// `clawops doctor --env ec2` end to end: the built CLI against local stand-ins of STS, Systems
// Manager and EC2 Instance Connect (signed requests, AWS's refusals) through the real SDK clients,
// and a real test host reached the way ec2 is: the proxy command `aws ssm start-session …`, here
// an `aws` on PATH that checks it was called as AWS documents and relays the stream to the test
// host (test/support/stdio-relay.mjs). Each missing prerequisite shows its own line and its fix.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clawops, scratchRepo, type Run } from '../support/cli.js';
import { startInstanceConnectStandIn, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, type InstanceConnectStandIn } from '../support/instance-connect-standin.js';
import { REPO_ROOT } from '../support/repo.js';
import { startSsmInstancesStandIn, type SsmInstancesStandIn } from '../support/ssm-instances-standin.js';
import { startStsStandIn, type StsStandIn } from '../support/sts-standin.js';
import { startTestHost, type TestHost } from '../support/testhost.js';

const HOST_NAME = `doctor-${randomBytes(3).toString('hex')}`;
const REGION = 'us-east-2';
const INSTANCE = 'i-0123456789abcdef0';
const FACTS = 'clawops-facts';
// A user without sudo, to show that check failing.
const NOSUDO = 'clawops-nosudo';

let host: TestHost;
let sts: StsStandIn;
let ssm: SsmInstancesStandIn;
let eic: InstanceConnectStandIn;
const allowedUsers = ['ubuntu', FACTS, NOSUDO];
let scratch: string;
let repo: string;
let bin: string;
let bare: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clawops-doctor-'));
  host = await startTestHost(HOST_NAME);
  for (const user of [FACTS, NOSUDO]) {
    const res = await host.run(`sudo useradd --create-home --shell /bin/bash ${user}`);
    assert.equal(res.code, 0, res.stderr);
  }
  sts = await startStsStandIn({ region: REGION });
  ssm = await startSsmInstancesStandIn({ region: REGION });
  ssm.nodes.set(INSTANCE, { pingStatus: 'Online' });
  eic = await startInstanceConnectStandIn({
    region: REGION,
    instances: [INSTANCE],
    osUsers: allowedUsers,
    // As the ec2-instance-connect package lets sshd take a pushed key for its user.
    onPush: async (key) => {
      const home = key.osUser === 'ubuntu' ? '/home/ubuntu' : `/home/${key.osUser}`;
      const res = await host.run(
        `sudo install -d -m 0700 -o ${key.osUser} -g ${key.osUser} ${home}/.ssh && sudo tee -a ${home}/.ssh/authorized_keys >/dev/null && sudo chown ${key.osUser}: ${home}/.ssh/authorized_keys`,
        { input: `${key.publicKey}\n` },
      );
      assert.equal(res.code, 0, res.stderr);
    },
  });

  // `aws`: its version, and the one SSM session clawops may ask for, relayed to the test host.
  bin = join(scratch, 'bin');
  bare = join(scratch, 'bare');
  await mkdir(bin);
  await mkdir(bare);
  const expected = `ssm start-session --target ${INSTANCE} --document-name AWS-StartSSHSession --parameters portNumber=22 --region ${REGION}`;
  await writeFile(
    join(bin, 'aws'),
    `#!/bin/sh
if [ "$1" = "--version" ]; then echo "aws-cli/2.36.24 Python/3.13 Linux (stand-in)"; exit 0; fi
if [ "$*" != "${expected}" ]; then echo "aws: not the documented session: $*" >&2; exit 2; fi
exec "${process.execPath}" "${join(REPO_ROOT, 'test/support/stdio-relay.mjs')}" "${host.host}" "${host.port}"
`,
  );
  await writeFile(join(bin, 'session-manager-plugin'), '#!/bin/sh\necho 1.2.835.0\n');
  for (const p of ['aws', 'session-manager-plugin']) await chmod(join(bin, p), 0o755);

  // The repository's config, its ec2 host named by a documentation address (RFC 5737) and pinned
  // to the test host's key: the stream reaches the test host through the session only.
  repo = await scratchRepo();
  const file = join(repo, 'config/environments/ec2.yaml');
  const hostKey = host.knownHostsLine.split(' ').slice(1, 3).join(' ');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/^  host: .*$/m, '  host: 192.0.2.10').replace(/^  hostKey: .*$/m, `  hostKey: ${hostKey}`));
});

after(async () => {
  await Promise.all([sts?.close(), ssm?.close(), eic?.close()]);
  await host?.stop();
  if (repo) await rm(repo, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const AWS_ENV = () => ({
  AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
  AWS_ENDPOINT_URL_STS: sts.url,
  AWS_ENDPOINT_URL_SSM: ssm.url,
  AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT: eic.url,
  AWS_EC2_METADATA_DISABLED: 'true',
});

async function doctor(env: Record<string, string> = {}, root = repo): Promise<Run> {
  const run = await clawops(['doctor', '--env', 'ec2', '--root', root], { env: { PATH: `${bin}:${process.env.PATH}`, ...AWS_ENV(), ...env } });
  // Nothing secret leaves: not the AWS secret, not a private key.
  for (const text of [run.stdout, run.stderr]) {
    assert.ok(!text.includes(TEST_SECRET_ACCESS_KEY) && !/PRIVATE KEY/.test(text), 'no secret in the output');
  }
  return run;
}

/** Each check as "status title", in order. */
const statuses = (run: Run) =>
  run.stdout
    .split('\n')
    .map((l) => /^ {2}(ok|MISSING|not tried) +([^:]+):/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
/** The fix printed under the check with this title. */
const fixOf = (run: Run, title: string) => {
  const lines = run.stdout.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^ {2}\\S.*? {2}${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`).test(l));
  assert.ok(at >= 0, `no check "${title}" in:\n${run.stdout}`);
  return /^ +fix: (.*)$/.exec(lines[at + 1] ?? '')?.[1];
};

const ALL = [
  'AWS CLI',
  'Session Manager plugin',
  'AWS credentials',
  `${INSTANCE} in Systems Manager`,
  'Instance Connect key for ubuntu',
  'SSH as ubuntu',
  'sudo as ubuntu',
  `Instance Connect key for ${FACTS}`,
  `SSH as ${FACTS}`,
  `${FACTS}'s login runs only the facts program`,
];

describe('clawops doctor --env ec2', () => {
  test('a facts user whose login runs any command is the one thing missing; with ForceCommand, every check passes', async () => {
    const open = await doctor();
    assert.equal(open.code, 1, open.stdout + open.stderr);
    assert.deepEqual(statuses(open), [...ALL.slice(0, -1).map((t) => `ok ${t}`), `MISSING ${ALL.at(-1)}`]);
    assert.match(open.stdout, new RegExp(`${FACTS}'s login runs only the facts program: the login ran the command asked for \\(echo\\): ${FACTS} can run any command`));
    assert.match(fixOf(open, ALL.at(-1)!)!, new RegExp(`"Match User ${FACTS}" with "ForceCommand"`));
    assert.match(open.stdout, /AWS credentials: arn:aws:sts::123456789012:assumed-role\/clawops-operator\/doctor/);
    assert.match(open.stdout, /SSH as ubuntu: through the SSM session, the host key is the pinned one/);

    // The fixed program, as sshd's ForceCommand runs it whatever the client asks.
    const setup = await host.run(
      `printf '#!/bin/sh\\necho "{\\\\"facts\\\\": 1}"\\n' | sudo install -m 0755 /dev/stdin /usr/local/bin/facts-standin && printf 'Match User ${FACTS}\\n  ForceCommand /usr/local/bin/facts-standin\\n' | sudo tee -a /etc/ssh/sshd_config >/dev/null && sudo systemctl reload ssh`,
    );
    assert.equal(setup.code, 0, setup.stderr);
    const closed = await doctor();
    assert.equal(closed.code, 0, closed.stdout + closed.stderr);
    assert.deepEqual(statuses(closed), ALL.map((t) => `ok ${t}`));
    assert.match(closed.stdout, new RegExp(`${FACTS}'s login runs only the facts program: asked for echo, it ran its fixed program instead \\(exit 0\\)`));
    assert.match(closed.stdout, /All 10 checks pass: clawops can reach ec2\./);
  });

  test('without the AWS CLI and the plugin: each with the command that installs it; no session is tried', async () => {
    const run = await doctor({ PATH: bare });
    assert.equal(run.code, 1);
    assert.deepEqual(statuses(run).slice(0, 2), ['MISSING AWS CLI', 'MISSING Session Manager plugin']);
    assert.match(run.stdout, /AWS CLI: aws is not on PATH/);
    if (process.platform === 'linux') {
      assert.match(fixOf(run, 'AWS CLI')!, /^curl -fsSL "https:\/\/awscli\.amazonaws\.com\/awscli-exe-linux-(x86_64|aarch64)\.zip" -o awscliv2\.zip && unzip -q awscliv2\.zip && sudo \.\/aws\/install/);
      assert.match(fixOf(run, 'Session Manager plugin')!, /session-manager-plugin\.deb" -o session-manager-plugin\.deb && sudo dpkg -i session-manager-plugin\.deb/);
    }
    assert.ok(statuses(run).includes('not tried SSH as ubuntu'), run.stdout);
    assert.match(run.stdout, /SSH as ubuntu: needs the AWS CLI and the Session Manager plugin/);
  });

  test('credentials AWS does not accept: the reason STS gives, the way to log in, and nothing else tried', async () => {
    const run = await doctor({ AWS_SECRET_ACCESS_KEY: 'not-the-secret-access-key' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /MISSING +AWS credentials: STS GetCallerIdentity: SignatureDoesNotMatch: The request signature we calculated does not match/);
    assert.match(fixOf(run, 'AWS credentials')!, /aws sso login --profile NAME && export AWS_PROFILE=NAME/);
    assert.deepEqual(statuses(run).slice(3), ALL.slice(3).map((t) => `not tried ${t}`));
    assert.ok(!run.stdout.includes('not-the-secret-access-key'));
  });

  test('an instance Systems Manager does not know, or whose agent is not online', async () => {
    ssm.nodes.delete(INSTANCE);
    try {
      const run = await doctor();
      assert.equal(run.code, 1);
      assert.match(run.stdout, new RegExp(`MISSING +${INSTANCE} in Systems Manager: not a managed node in ${REGION}`));
      assert.match(fixOf(run, `${INSTANCE} in Systems Manager`)!, /instance profile whose role has the policy AmazonSSMManagedInstanceCore/);
      assert.match(run.stdout, /SSH as ubuntu: needs the instance Online in Systems Manager/);
      ssm.nodes.set(INSTANCE, { pingStatus: 'ConnectionLost' });
      const lost = await doctor();
      assert.match(lost.stdout, new RegExp(`MISSING +${INSTANCE} in Systems Manager: PingStatus is ConnectionLost, not Online`));
      assert.match(fixOf(lost, `${INSTANCE} in Systems Manager`)!, /sudo snap restart amazon-ssm-agent/);
      ssm.denyAll = true;
      const denied = await doctor();
      assert.match(denied.stdout, /MISSING +i-0123456789abcdef0 in Systems Manager: SSM DescribeInstanceInformation \(i-0123456789abcdef0\): AccessDeniedException: /);
      assert.match(fixOf(denied, `${INSTANCE} in Systems Manager`)!, /ssm:DescribeInstanceInformation/);
    } finally {
      ssm.denyAll = false;
      ssm.nodes.set(INSTANCE, { pingStatus: 'Online' });
    }
  });

  test('credentials that may not push a key for the facts user: that login alone is refused, with the policy to add', async () => {
    allowedUsers.splice(allowedUsers.indexOf(FACTS), 1);
    try {
      const run = await doctor();
      assert.equal(run.code, 1);
      assert.deepEqual(statuses(run).slice(0, 7), ALL.slice(0, 7).map((t) => `ok ${t}`));
      assert.match(run.stdout, new RegExp(`MISSING +Instance Connect key for ${FACTS}: EC2 Instance Connect \\(${INSTANCE}\\): AccessDeniedException: `));
      assert.equal(fixOf(run, `Instance Connect key for ${FACTS}`), `let these credentials push a key for ${FACTS}: ec2-instance-connect:SendSSHPublicKey on the instance with the condition ec2:osuser = ${FACTS} (aws/iam/*.policy.json)`);
    } finally {
      allowedUsers.push(FACTS);
    }
  });

  test('a host key other than the pinned one, and a user without sudo', async () => {
    const other = await scratchRepo();
    try {
      const file = join(other, 'config/environments/ec2.yaml');
      const text = await readFile(join(repo, 'config/environments/ec2.yaml'), 'utf8');
      // The pin stays the real host's; the user is one without sudo.
      await writeFile(file, text.replace(/^  user: ubuntu$/m, `  user: ${NOSUDO}`));
      const nosudo = await doctor({}, other);
      assert.match(nosudo.stdout, new RegExp(`MISSING +sudo as ${NOSUDO}: sudo -n true exits 1`));
      assert.match(fixOf(nosudo, `sudo as ${NOSUDO}`)!, new RegExp(`${NOSUDO} ALL=\\(ALL\\) NOPASSWD:ALL' \\| sudo tee /etc/sudoers\\.d/90-${NOSUDO}`));

      // An ed25519 key that is not the host's.
      await writeFile(file, text.replace(/^  hostKey: .*$/m, '  hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHC784vck7aBgnDuDFFd8N2pw5VtmZaK5vJz1vlW4+eo'));
      const wrong = await doctor({}, other);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /MISSING +SSH as ubuntu: ubuntu@192\.0\.2\.10:22: host key: /);
      assert.match(fixOf(wrong, 'SSH as ubuntu')!, /ssh-keygen -lf \/etc\/ssh\/ssh_host_ed25519_key\.pub/);
      assert.match(wrong.stdout, /not tried +sudo as ubuntu: needs the login/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
