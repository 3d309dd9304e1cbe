/**
 * clawops plan, apply and drift of an environment's security group, through the built CLI and the
 * real EC2 SDK, against the EC2 stand-in on loopback (signatures checked). The environment is a
 * local one, so no host is needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ec2SecurityGroups } from '../../src/aws/ec2-adapter.js';
import { clawops, scratchRepo, type Run } from '../support/cli.js';
import { startEc2Standin, type Ec2Standin, type StandinRule } from '../support/ec2-standin.js';

const GROUP = 'sg-0a1b2c3d4e5f60718';
const SECRETS: Record<string, string> = {};
let ec2: Ec2Standin;
/** The same API, used as a person at the console would: rules changed behind clawops. */
let console_: Ec2SecurityGroups;
let root: string;
let state: string;

/** Neither a credentials file nor the instance's metadata service is ever asked. */
const NO_AWS_FILES = { AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials', AWS_EC2_METADATA_DISABLED: 'true' };

async function run(args: string[], aws = true): Promise<Run> {
  const credentials: Record<string, string> = aws ? { AWS_ACCESS_KEY_ID: ec2.accessKeyId, AWS_SECRET_ACCESS_KEY: ec2.secretAccessKey } : {};
  return clawops([...args, '--root', root], {
    env: { ...SECRETS, ...NO_AWS_FILES, ...credentials, AWS_ENDPOINT_URL_EC2: ec2.url, OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'test' },
  });
}

const rules = (): StandinRule[] => [...ec2.groups.get(GROUP)!].sort((a, b) => a.from - b.from || a.source.localeCompare(b.source));
const tcp = (port: number, source: string, description: string): StandinRule => ({ protocol: 'tcp', from: port, to: port, source, description });

before(async () => {
  ec2 = await startEc2Standin({ region: 'eu-central-1' });
  console_ = new Ec2SecurityGroups({ region: 'eu-central-1', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey } });
  // As the deployment guide left it by hand, plus a rule an earlier configuration had clawops write.
  ec2.groups.set(GROUP, [tcp(22, '203.0.113.7/32', 'SSH from the office'), tcp(8080, '0.0.0.0/0', 'clawops: the old web port')]);
  root = await scratchRepo();
  state = await mkdtemp(join(tmpdir(), 'clawops-sg-state-'));
  const local = await readFile(join(root, 'config/environments/local.yaml'), 'utf8');
  await writeFile(
    join(root, 'config/environments/sg.yaml'),
    `${local.replace('name: local', 'name: sg').replace(/secrets:\n {2}source: dotenv\n {2}path: \.env\n(.*\n)*/, 'secrets:\n  source: env\n')}` +
      `securityGroup:\n  id: ${GROUP}\n  region: eu-central-1\n  ingress:\n    - protocol: tcp\n      port: 443\n      cidr: 0.0.0.0/0\n      description: TLS hop to the gateway\n`,
  );
  for (const name of ['OPENCLAW_GATEWAY_TOKEN', 'GROQ_API_KEY', 'GEMINI_API_KEY', 'DEEPSEEK_API_KEY', 'CEREBRAS_API_KEY', 'MISTRAL_API_KEY', 'KIMI_API_KEY', 'OPENROUTER_API_KEY']) {
    SECRETS[name] = `canary-${name.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  }
});

after(async () => {
  console_.close();
  await ec2.close();
});

describe('the security group, through clawops', () => {
  test('plan shows the rule to allow, the rule of clawops to revoke, and the rule set by hand it leaves alone', async () => {
    const r = await run(['plan', '--env', 'sg', '--detailed-exitcode']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, new RegExp(`^Security group ${GROUP} \\(eu-central-1\\):$`, 'm'));
    assert.match(r.stdout, /^ {2}\+ allow tcp 443 from 0\.0\.0\.0\/0 {2}— not in the group: "clawops: TLS hop to the gateway"$/m);
    assert.match(r.stdout, /^ {2}- revoke tcp 8080 from 0\.0\.0\.0\/0 {2}— written by clawops, no longer in the configuration$/m);
    assert.match(r.stdout, /^ {2}! tcp 22 from 203\.0\.113\.7\/32 {2}— not written by clawops: reported, never revoked \("SSH from the office"\)$/m);
    assert.match(r.stdout, /^Symbols: .*\+ allow, - revoke$/m);
    assert.equal(rules().length, 2, 'plan changes nothing');
    assert.deepEqual(ec2.requests.map((q) => q.action).filter((a) => a !== 'DescribeSecurityGroups'), []);

    const json = JSON.parse((await run(['plan', '--env', 'sg', '--json'])).stdout) as { changes: boolean; securityGroup: { rules: { action: string; ports: string }[]; unmanaged: { ports: string }[] } };
    assert.equal(json.changes, true);
    assert.deepEqual(json.securityGroup.rules.map((x) => `${x.action} ${x.ports}`), ['authorize 443', 'revoke 8080']);
    assert.deepEqual(json.securityGroup.unmanaged.map((x) => x.ports), ['22']);
  });

  test('apply allows the missing rule, revokes the one no longer declared, and keeps the rule set by hand', async () => {
    const r = await run(['apply', '--env', 'sg', '--no-smoke']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(rules(), [tcp(22, '203.0.113.7/32', 'SSH from the office'), tcp(443, '0.0.0.0/0', 'clawops: TLS hop to the gateway')]);
    assert.match(r.stderr, new RegExp(`security group ${GROUP}: 1 rule\\(s\\) allowed, 1 revoked`));

    const again = await run(['plan', '--env', 'sg', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout);
    assert.doesNotMatch(again.stdout, /\+ allow|- revoke/);
  });

  test('drift reports a rule added by hand and one removed by hand; apply puts back only its own', async () => {
    await console_.authorize(GROUP, [{ protocol: 'tcp', from: 5432, to: 5432, source: '0.0.0.0/0', description: 'debugging' }]);
    await console_.revoke(GROUP, [{ protocol: 'tcp', from: 443, to: 443, source: '0.0.0.0/0', description: '' }]);

    const drift = await run(['drift', '--env', 'sg']);
    assert.equal(drift.code, 2, drift.stdout);
    assert.match(drift.stdout, new RegExp(`^ {2}! security group ${GROUP}: allow tcp 443 from 0\\.0\\.0\\.0/0 is missing — removed by hand, or not yet applied$`, 'm'));
    assert.match(drift.stdout, new RegExp(`^ {2}! security group ${GROUP}: tcp 5432 from 0\\.0\\.0\\.0/0 \\("debugging"\\) was added outside clawops; apply leaves it — changed outside clawops$`, 'm'));
    const md = await run(['drift', '--env', 'sg', '--format', 'markdown']);
    assert.match(md.stdout, /\| `security group sg-0a1b2c3d4e5f60718` \| tcp 5432 from 0\.0\.0\.0\/0 \("debugging"\) was added outside clawops; apply leaves it \| changed outside clawops \|/);

    const apply = await run(['apply', '--env', 'sg', '--no-smoke']);
    assert.equal(apply.code, 0, apply.stderr);
    assert.deepEqual(rules().map((x) => `${x.from} ${x.description}`), ['22 SSH from the office', '443 clawops: TLS hop to the gateway', '5432 debugging']);
  });

  test('a saved plan records the group\'s changes, and its apply refuses once the group moved', async () => {
    await console_.revoke(GROUP, [{ protocol: 'tcp', from: 443, to: 443, source: '0.0.0.0/0', description: '' }]);
    const dir = await mkdtemp(join(tmpdir(), 'clawops-sg-saved-'));
    const saved = join(dir, 'plan.json');
    const plan = await run(['plan', '--env', 'sg', '--out', saved]);
    assert.equal(plan.code, 0, plan.stderr);
    const record = JSON.parse(await readFile(saved, 'utf8')) as { securityGroup: { id: string; changes: string[] } };
    assert.deepEqual(record.securityGroup.changes, ['authorize tcp 443 from 0.0.0.0/0']);
    assert.equal(record.securityGroup.id, GROUP);

    // Someone opens a port at the console after the plan: the saved plan no longer says what apply would do.
    await console_.authorize(GROUP, [{ protocol: 'tcp', from: 6379, to: 6379, source: '198.51.100.0/24', description: 'cache' }]);
    const refused = await run(['apply', saved, '--no-smoke']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.ok(refused.stderr.split('\n').includes(`error: the security group ${GROUP} changed since this plan was made; make a new plan`), refused.stderr);
    assert.ok(!rules().some((x) => x.from === 443), 'nothing was applied');

    await console_.revoke(GROUP, [{ protocol: 'tcp', from: 6379, to: 6379, source: '198.51.100.0/24', description: '' }]);
    const replan = await run(['plan', '--env', 'sg', '--out', saved]);
    assert.equal(replan.code, 0, replan.stderr);
    const applied = await run(['apply', saved, '--no-smoke']);
    assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
    assert.ok(rules().some((x) => x.from === 443 && x.description === 'clawops: TLS hop to the gateway'));
  });

  test('a rule whose description changed in the configuration is described anew in place, never revoked', async () => {
    const env = join(root, 'config/environments/sg.yaml');
    const before = await readFile(env, 'utf8');
    await writeFile(env, before.replace('description: TLS hop to the gateway', 'description: TLS hop to the gateway (Caddy)'));
    try {
      const plan = await run(['plan', '--env', 'sg', '--detailed-exitcode']);
      assert.equal(plan.code, 2, plan.stdout);
      assert.match(plan.stdout, /^ {2}~ describe tcp 443 from 0\.0\.0\.0\/0 {2}— in the group with another description: "clawops: TLS hop to the gateway" → "clawops: TLS hop to the gateway \(Caddy\)"$/m);
      ec2.requests.length = 0;
      const r = await run(['apply', '--env', 'sg', '--no-smoke']);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(ec2.requests.map((q) => q.action).filter((a) => a !== 'DescribeSecurityGroups'), ['UpdateSecurityGroupRuleDescriptionsIngress']);
      assert.ok(rules().some((x) => x.from === 443 && x.description === 'clawops: TLS hop to the gateway (Caddy)'));
    } finally {
      await writeFile(env, before);
      await run(['apply', '--env', 'sg', '--no-smoke']);
    }
  });

  test('without AWS credentials the group is not compared, and plan says so', async () => {
    const r = await run(['plan', '--env', 'sg'], false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}\? not compared: no AWS credentials here \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE\)$/m);
  });

  test('an unknown group fails the plan with one line naming it', async () => {
    ec2.groups.delete(GROUP);
    try {
      const r = await run(['plan', '--env', 'sg']);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.split('\n').includes(`error: EC2 security group ${GROUP} (eu-central-1): describe: InvalidGroup.NotFound: The security group '${GROUP}' does not exist (check securityGroup.id and securityGroup.region in the environment)`), r.stderr);
    } finally {
      ec2.groups.set(GROUP, []);
    }
  });
});
