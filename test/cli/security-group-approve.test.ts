/**
 * On a terminal, apply asks before it changes the security group, as it asks before it changes the
 * host: the question shows the group's rules, and a host with nothing to change still asks when
 * the group has. The host is this machine behind the SSH stand-in; the group is the EC2 stand-in's.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clawops, clawopsOnTerminal, scratchRepo } from '../support/cli.js';
import { startEc2Standin, type Ec2Standin } from '../support/ec2-standin.js';
import { remoteEnvironment, startSshStandin, type SshStandin } from '../support/ssh-standin.js';

const GROUP = 'sg-0123456789abcdef0';
let ssh: SshStandin;
let ec2: Ec2Standin;
let root: string;
let SECRETS: Record<string, string>;

before(async () => {
  ssh = await startSshStandin();
  ec2 = await startEc2Standin({ region: 'us-east-2' });
  ec2.groups.set(GROUP, []);
  root = await scratchRepo();
  ({ secrets: SECRETS } = await remoteEnvironment(root, ssh));
  await appendFile(
    join(root, 'config/environments/remote.yaml'),
    `securityGroup:\n  id: ${GROUP}\n  region: us-east-2\n  ingress:\n    - protocol: tcp\n      port: 443\n      cidr: 0.0.0.0/0\n      description: TLS hop\n`,
  );
});

after(async () => {
  await ssh.close();
  await ec2.close();
});

const env = () => ({
  ...SECRETS,
  REMOTE_SSH_KEY: ssh.clientKey,
  CLAWOPS_REVISION: 'sg-approve-test',
  NO_COLOR: '1',
  AWS_ACCESS_KEY_ID: ec2.accessKeyId,
  AWS_SECRET_ACCESS_KEY: ec2.secretAccessKey,
  AWS_ENDPOINT_URL_EC2: ec2.url,
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
});

const before443 = (screen: string) => {
  const question = screen.indexOf('Do you want to apply these changes to remote');
  const rule = screen.indexOf('+ allow tcp 443 from 0.0.0.0/0');
  return question > 0 && rule >= 0 && rule < question;
};

describe('apply asks before it changes the security group', () => {
  test('the question shows the rule to allow; "no" leaves the group as it was', async () => {
    const r = await clawopsOnTerminal(['apply', '--env', 'remote', '--root', root], { env: env(), answer: 'no' });
    assert.equal(r.code, 1, r.screen);
    assert.ok(before443(r.screen), r.screen);
    assert.deepEqual(ec2.groups.get(GROUP), []);
  });

  test('with the host applied, a rule removed by hand is still asked about before it is put back', async () => {
    const first = await clawops(['apply', '--env', 'remote', '--auto-approve', '--root', root], { env: env() });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(ec2.groups.get(GROUP)!.length, 1);
    ec2.groups.set(GROUP, []);

    const no = await clawopsOnTerminal(['apply', '--env', 'remote', '--root', root], { env: env(), answer: 'no' });
    assert.equal(no.code, 1, no.screen);
    assert.ok(before443(no.screen), no.screen);
    assert.match(no.screen, /Apply cancelled: nothing was changed on remote\./);
    assert.deepEqual(ec2.groups.get(GROUP), []);

    const yes = await clawopsOnTerminal(['apply', '--env', 'remote', '--root', root], { env: env(), answer: 'yes' });
    assert.equal(yes.code, 0, yes.screen);
    assert.match(yes.screen, /the security group sg-0123456789abcdef0 was updated/);
    assert.deepEqual(ec2.groups.get(GROUP)!.map((r) => `${r.from} ${r.source} ${r.description}`), ['443 0.0.0.0/0 clawops: TLS hop']);
  });
});
