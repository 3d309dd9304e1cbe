/**
 * The EC2 adapter, with the real @aws-sdk/client-ec2 inside, over real HTTP against the EC2
 * stand-in: what it reads and writes, and how EC2's refusals reach a person.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Ec2SecurityGroups } from '../../src/aws/ec2-adapter.js';
import { SecurityGroupError } from '../../src/aws/security-group.js';
import { startEc2Standin, type Ec2Standin } from '../support/ec2-standin.js';

const GROUP = 'sg-0123456789abcdef0';
let ec2: Ec2Standin;
let adapter: Ec2SecurityGroups;

const rule = (port: number, source: string, description: string) => ({ protocol: 'tcp', from: port, to: port, source, description });

before(async () => {
  ec2 = await startEc2Standin({ region: 'us-east-2' });
  adapter = new Ec2SecurityGroups({ region: 'us-east-2', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey } });
});
after(async () => {
  adapter.close();
  await ec2.close();
});
beforeEach(() => {
  ec2.groups.clear();
  ec2.groups.set(GROUP, [rule(22, '203.0.113.7/32', 'SSH from the office')]);
  ec2.denied.clear();
  ec2.requests.length = 0;
  ec2.rulesPerGroup = 60;
});

async function refused(p: Promise<unknown>): Promise<SecurityGroupError> {
  const e = await p.then(() => assert.fail('expected a refusal'), (err: unknown) => err);
  assert.ok(e instanceof SecurityGroupError, String(e));
  return e;
}

describe('the EC2 security group adapter', () => {
  test('reads the inbound rules, authorizes with descriptions, revokes by protocol, ports and source', async () => {
    assert.deepEqual(await adapter.describeIngress(GROUP), [rule(22, '203.0.113.7/32', 'SSH from the office')]);
    await adapter.authorize(GROUP, [rule(443, '0.0.0.0/0', 'clawops: TLS hop & more'), rule(443, '::/0', 'clawops: TLS hop (IPv6)')]);
    assert.deepEqual(await adapter.describeIngress(GROUP), [
      rule(22, '203.0.113.7/32', 'SSH from the office'),
      rule(443, '0.0.0.0/0', 'clawops: TLS hop & more'),
      rule(443, '::/0', 'clawops: TLS hop (IPv6)'),
    ]);
    await adapter.revoke(GROUP, [rule(443, '::/0', 'clawops: TLS hop (IPv6)')]);
    assert.equal(ec2.groups.get(GROUP)!.length, 2);
    assert.deepEqual(ec2.requests.map((r) => r.action), ['DescribeSecurityGroups', 'AuthorizeSecurityGroupIngress', 'DescribeSecurityGroups', 'RevokeSecurityGroupIngress']);
    assert.equal(ec2.requests[1]!.params.get('IpPermissions.1.IpRanges.1.Description'), 'clawops: TLS hop & more');
  });

  test('a rule\'s description is updated in place; a rule that is not there is refused', async () => {
    await adapter.updateDescriptions(GROUP, [rule(22, '203.0.113.7/32', 'clawops: SSH from the new office')]);
    assert.deepEqual(await adapter.describeIngress(GROUP), [rule(22, '203.0.113.7/32', 'clawops: SSH from the new office')]);
    assert.equal(ec2.requests[0]!.action, 'UpdateSecurityGroupRuleDescriptionsIngress');
    const e = await refused(adapter.updateDescriptions(GROUP, [rule(2222, '203.0.113.7/32', 'clawops: nowhere')]));
    assert.equal(e.code, 'InvalidPermission.NotFound');
    const bad = await refused(adapter.updateDescriptions(GROUP, [rule(22, '203.0.113.7/32', 'clawops: <no>')]));
    assert.equal(bad.code, 'InvalidParameterValue');
  });

  test('an unknown group', async () => {
    const e = await refused(adapter.describeIngress('sg-0fffffffffffffff0'));
    assert.equal(e.code, 'InvalidGroup.NotFound');
    assert.equal(e.message, "EC2 security group sg-0fffffffffffffff0 (us-east-2): describe: InvalidGroup.NotFound: The security group 'sg-0fffffffffffffff0' does not exist (check securityGroup.id and securityGroup.region in the environment)");
  });

  test('a rule already there, and a description EC2 refuses', async () => {
    const dup = await refused(adapter.authorize(GROUP, [rule(22, '203.0.113.7/32', 'again')]));
    assert.equal(dup.code, 'InvalidPermission.Duplicate');
    assert.equal(dup.status, 400);
    assert.match(dup.message, /the specified rule "peer: 203\.0\.113\.7\/32, TCP, from port: 22, to port: 22, ALLOW" already exists/);
    const bad = await refused(adapter.authorize(GROUP, [rule(443, '0.0.0.0/0', 'café')]));
    assert.equal(bad.code, 'InvalidParameterValue');
    assert.equal(ec2.groups.get(GROUP)!.length, 1, 'nothing was added');
  });

  test('EC2 keeps a block by its network address, and another spelling of it is a duplicate', async () => {
    await adapter.authorize(GROUP, [rule(8443, '100.68.0.18/18', 'a')]);
    assert.deepEqual((await adapter.describeIngress(GROUP)).map((r) => r.source), ['203.0.113.7/32', '100.68.0.0/18']);
    const e = await refused(adapter.authorize(GROUP, [rule(8443, '100.68.0.0/18', 'b')]));
    assert.equal(e.code, 'InvalidPermission.Duplicate');
  });

  test('the rules-per-group quota', async () => {
    ec2.rulesPerGroup = 2;
    const e = await refused(adapter.authorize(GROUP, [rule(443, '0.0.0.0/0', 'a'), rule(8443, '0.0.0.0/0', 'b')]));
    assert.equal(e.code, 'RulesPerSecurityGroupLimitExceeded');
    assert.match(e.message, /remove rules or raise the quota/);
  });

  test('a permission the identity lacks', async () => {
    ec2.denied.add('AuthorizeSecurityGroupIngress');
    const e = await refused(adapter.authorize(GROUP, [rule(443, '0.0.0.0/0', 'a')]));
    assert.equal(e.code, 'UnauthorizedOperation');
    assert.equal(e.status, 403);
  });

  test('revoking a rule that is gone is an error of ours, though EC2 answers 200', async () => {
    const e = await refused(adapter.revoke(GROUP, [rule(443, '0.0.0.0/0', '')]));
    assert.equal(e.code, 'InvalidPermission.NotFound');
    assert.match(e.message, /not in the group: tcp 443 from 0\.0\.0\.0\/0/);
  });

  test('a wrong secret key, an unknown key id, and a request signed for another region are refused', async () => {
    const wrongSecret = new Ec2SecurityGroups({ region: 'us-east-2', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const unknownKey = new Ec2SecurityGroups({ region: 'us-east-2', endpoint: ec2.url, credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: ec2.secretAccessKey } });
    const otherRegion = new Ec2SecurityGroups({ region: 'eu-west-1', endpoint: ec2.url, credentials: { accessKeyId: ec2.accessKeyId, secretAccessKey: ec2.secretAccessKey } });
    try {
      const a = await refused(wrongSecret.describeIngress(GROUP));
      assert.deepEqual([a.code, a.status], ['SignatureDoesNotMatch', 403]);
      const b = await refused(unknownKey.describeIngress(GROUP));
      assert.deepEqual([b.code, b.status], ['AuthFailure', 401]);
      const c = await refused(otherRegion.describeIngress(GROUP));
      assert.deepEqual([c.code, c.status], ['SignatureDoesNotMatch', 403]);
      assert.equal(ec2.requests.length, 0, 'no unsigned request got through');
    } finally {
      for (const x of [wrongSecret, unknownKey, otherRegion]) x.close();
    }
  });
});
