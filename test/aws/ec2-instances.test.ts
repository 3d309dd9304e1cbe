/**
 * Finding a fleet's hosts by tag: the EC2 adapter's DescribeInstances, with the real
 * @aws-sdk/client-ec2 inside, over real HTTP against the EC2 stand-in; then the members a fleet
 * target resolves to. Addresses are documentation addresses (RFC 5737); nothing connects to them.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Ec2Instances } from '../../src/aws/ec2-adapter.js';
import { InstanceDirectoryError } from '../../src/aws/instances.js';
import { members, type SshTarget } from '../../src/cli/fleet.js';
import { startEc2Standin, type Ec2Standin, type StandinInstance } from '../support/ec2-standin.js';

let ec2: Ec2Standin;
let adapter: Ec2Instances;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetStandinHostKeyForTestsOnly000000000000';

const inst = (n: number, state: StandinInstance['state'], tags: Record<string, string>): StandinInstance => ({
  instanceId: `i-0${n.toString(16).padStart(16, '0')}`,
  state,
  tags,
  privateIp: `192.0.2.${n}`,
  publicIp: `198.51.100.${n}`,
  availabilityZone: 'us-east-2a',
});

before(async () => {
  ec2 = await startEc2Standin({ region: 'us-east-2' });
  adapter = new Ec2Instances({ region: 'us-east-2', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey } });
});
after(async () => {
  adapter.close();
  await ec2.close();
});
beforeEach(() => {
  ec2.instances = [
    inst(3, 'running', { Role: 'openclaw', Name: 'gw-3' }),
    inst(1, 'running', { Role: 'openclaw', Stage: 'prod' }),
    inst(2, 'stopped', { Role: 'openclaw' }),
    inst(4, 'running', { Role: 'bastion' }),
  ];
  ec2.requests.length = 0;
  ec2.denied.clear();
  ec2.defaultPageSize = 1000;
});

describe('EC2 instances by tag (DescribeInstances)', () => {
  test('only running instances carrying every tag, in instance id order, with their addresses', async () => {
    const found = await adapter.runningWithTags({ Role: 'openclaw' });
    assert.deepEqual(found.map((i) => [i.instanceId, i.privateIp, i.publicIp, i.name ?? null]), [
      ['i-00000000000000001', '192.0.2.1', '198.51.100.1', null],
      ['i-00000000000000003', '192.0.2.3', '198.51.100.3', 'gw-3'],
    ]);
    const p = ec2.requests[0]!.params;
    assert.equal(p.get('Filter.1.Name'), 'tag:Role');
    assert.equal(p.get('Filter.1.Value.1'), 'openclaw');
    assert.equal(p.get('Filter.2.Name'), 'instance-state-name');
    assert.equal(p.get('Filter.2.Value.1'), 'running');
    assert.deepEqual((await adapter.runningWithTags({ Role: 'openclaw', Stage: 'prod' })).map((i) => i.instanceId), ['i-00000000000000001']);
  });

  test('follows nextToken to the last page', async () => {
    ec2.instances = Array.from({ length: 12 }, (_, i) => inst(i + 1, 'running', { Role: 'openclaw' }));
    const found = await adapter.runningWithTags({ Role: 'openclaw' });
    assert.equal(found.length, 12);
    assert.equal(new Set(found.map((i) => i.instanceId)).size, 12);
    assert.equal(ec2.requests.length, 1, 'MaxResults 100: one page');
    ec2.requests.length = 0;
    const small = new Ec2Instances({ region: 'us-east-2', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey }, pageSize: 5 });
    try {
      const paged = await small.runningWithTags({ Role: 'openclaw' });
      assert.deepEqual(paged.map((i) => i.instanceId), found.map((i) => i.instanceId));
      assert.equal(ec2.requests.length, 3, 'pages of 5, 5 and 2');
      assert.ok(ec2.requests[1]!.params.get('NextToken'), 'the second page asked with the token');
    } finally {
      small.close();
    }
  });

  test('a missing permission is one line naming the action', async () => {
    ec2.denied.add('DescribeInstances');
    const e = await adapter.runningWithTags({ Role: 'openclaw' }).then(() => assert.fail('expected a refusal'), (err: unknown) => err);
    assert.ok(e instanceof InstanceDirectoryError);
    assert.equal(e.code, 'UnauthorizedOperation');
    assert.match(e.message, /^EC2 DescribeInstances in us-east-2: UnauthorizedOperation: .*lacks ec2:DescribeInstances/);
  });

  test('the stand-in refuses what EC2 refuses: an unknown filter, MaxResults out of range, a token it never gave', async () => {
    assert.equal(await rawDescribe({ Filters: [{ Name: 'colour', Values: ['red'] }] }), 'InvalidParameterValue');
    assert.equal(await rawDescribe({ MaxResults: 2 }), 'InvalidParameterValue');
    assert.equal(await rawDescribe({ MaxResults: 5, InstanceIds: ['i-00000000000000001'] }), 'InvalidParameterCombination');
    assert.equal(await rawDescribe({ NextToken: 'made-up' }), 'InvalidPaginationToken');
    assert.equal(await rawDescribe({ MaxResults: 5 }), 'accepted');
  });
});

describe('a fleet target by tag', () => {
  const target = (extra: Partial<SshTarget['instances'] & object> = {}, hostKey?: string): SshTarget => ({
    kind: 'ssh',
    port: 22,
    user: 'ubuntu',
    ...(hostKey ? { hostKey } : {}),
    privateKeySecret: 'K',
    instances: { tag: { Role: 'openclaw' }, region: 'us-east-2', address: 'private', ...extra },
  });

  test('each running tagged instance is a host, named by its instance id, reached at its private address', async () => {
    const m = await members('prod', target({ hostKeys: { 'i-00000000000000001': KEY, 'i-00000000000000003': KEY } }), () => adapter);
    assert.deepEqual(m.map((x) => [x.name, x.host, x.label ?? null]), [
      ['i-00000000000000001', '192.0.2.1', null],
      ['i-00000000000000003', '192.0.2.3', 'gw-3'],
    ]);
    const pub = await members('prod', target({ address: 'public' }, KEY), () => adapter);
    assert.deepEqual(pub.map((x) => x.host), ['198.51.100.1', '198.51.100.3']);
  });

  test('a list of hosts keeps its order and names; a host without a port takes the target\'s', async () => {
    const listed: SshTarget = {
      kind: 'ssh',
      port: 2200,
      user: 'ubuntu',
      privateKeySecret: 'K',
      hosts: [
        { name: 'gw-2', host: '192.0.2.2', hostKey: KEY },
        { name: 'gw-1', host: '192.0.2.1', port: 22, hostKey: KEY, instanceId: 'i-0123456789abcdef0' },
      ],
    };
    const m = await members('prod', listed, () => assert.fail('a list asks EC2 nothing'));
    assert.deepEqual(m.map((x) => [x.name, x.host, x.port, x.instanceId ?? null]), [
      ['gw-2', '192.0.2.2', 2200, null],
      ['gw-1', '192.0.2.1', 22, 'i-0123456789abcdef0'],
    ]);
  });

  test('an instance without a pinned host key is refused before any host is contacted', async () => {
    await assert.rejects(members('prod', target({ hostKeys: { 'i-00000000000000001': KEY } }), () => adapter), /prod: instance i-00000000000000003 \(tagged Role=openclaw\) has no pinned host key: add it to target\.instances\.hostKeys/);
  });

  test('no instance with the tags is an error, not an empty rollout', async () => {
    ec2.instances = [];
    await assert.rejects(members('prod', target({}, KEY), () => adapter), /prod: target\.instances: no running instance in us-east-2 carries Role=openclaw/);
  });
});

/** The SDK's own call, for requests the adapter never makes. */
async function rawDescribe(input: Record<string, unknown>): Promise<string> {
  const { EC2Client, DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
  const client = new EC2Client({ region: 'us-east-2', endpoint: ec2.url, maxAttempts: 1, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey } });
  try {
    await client.send(new DescribeInstancesCommand(input));
    return 'accepted';
  } catch (e) {
    return (e as { Code?: string; name?: string }).Code ?? (e as Error).name;
  } finally {
    client.destroy();
  }
}
