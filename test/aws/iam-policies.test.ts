// The IAM documents in aws/iam/ (the two roles GitHub's OIDC token is exchanged for) against the
// config and the workflows they serve: the same instance, region, security group, OS users and
// environment name, so the roles and what clawops does cannot drift apart; and the README shows
// each document as it is in the file.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT, repoConfig } from '../support/repo.js';

interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Principal?: { Federated: string };
  Condition?: Record<string, Record<string, string | string[]>>;
}
interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

const FILES = ['pull-request-role.trust.json', 'pull-request-role.policy.json', 'apply-role.trust.json', 'apply-role.policy.json'] as const;
const raw = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, await readFile(join(REPO_ROOT, 'aws/iam', f), 'utf8')] as const)));
const doc = (f: (typeof FILES)[number]) => JSON.parse(raw[f]!) as PolicyDocument;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const allowing = (d: PolicyDocument, action: string) => d.Statement.filter((s) => s.Effect === 'Allow' && list(s.Action).some((a) => a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1)))));

const config = await repoConfig();
const ec2 = config.environments.find((e) => e.name === 'ec2')!;
assert.ok(ec2.target.kind === 'ssh' && ec2.target.via?.ssm && ec2.target.instanceConnect && ec2.securityGroup, 'ec2 is reached through SSM with Instance Connect keys');
const target = ec2.target;
const { instanceId, region } = target.via!.ssm;
const applyJob = (parse(await readFile(join(REPO_ROOT, '.github/workflows/apply.yml'), 'utf8')) as { jobs: Record<string, { environment?: string }> }).jobs.apply!;
const instanceArn = new RegExp(`^arn:aws:ec2:${region}:\\d{12}:instance/${instanceId}$`);
const documentArn = `arn:aws:ssm:${region}::document/AWS-StartSSHSession`;
const OIDC = 'token.actions.githubusercontent.com';

describe('aws/iam: the documents', () => {
  test('each is an IAM policy document of version 2012-10-17 with named statements', () => {
    for (const f of FILES) {
      const d = doc(f);
      assert.equal(d.Version, '2012-10-17', f);
      assert.ok(d.Statement.every((s) => /^[A-Za-z0-9]+$/.test(s.Sid)), `${f}: every Sid is alphanumeric, as IAM requires`);
    }
  });

  test('the README shows each document as it is in its file', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const f of FILES) assert.ok(readme.includes(`aws/iam/${f}\`:\n\n\`\`\`json\n${raw[f]}\`\`\``), `README.md shows aws/iam/${f} verbatim`);
  });
});

describe('aws/iam: the instance the config reaches', () => {
  test('both roles may open an SSH session to that instance only, with AWS-StartSSHSession only', () => {
    assert.equal(target.instanceConnect!.instanceId, instanceId, 'Instance Connect and SSM name the same instance');
    for (const f of ['pull-request-role.policy.json', 'apply-role.policy.json'] as const) {
      const start = allowing(doc(f), 'ssm:StartSession');
      assert.equal(start.length, 1, f);
      const resources = list(start[0]!.Resource);
      assert.equal(resources.filter((r) => instanceArn.test(r)).length, 1, `${f}: ${resources}`);
      assert.deepEqual(resources.filter((r) => !instanceArn.test(r)), [documentArn], `${f}: no other instance or document`);
    }
  });

  test('the pull-request role pushes a key only for the read-only user; the apply role only for the deploying user', () => {
    assert.equal(target.factsUser, 'clawops-facts');
    const users = { 'pull-request-role.policy.json': target.factsUser, 'apply-role.policy.json': target.user } as const;
    for (const [f, user] of Object.entries(users) as [keyof typeof users, string][]) {
      const push = allowing(doc(f), 'ec2-instance-connect:SendSSHPublicKey');
      assert.equal(push.length, 1, f);
      assert.ok(list(push[0]!.Resource).length === 1 && instanceArn.test(list(push[0]!.Resource)[0]!), `${f}: that instance only`);
      assert.deepEqual(push[0]!.Condition, { StringEquals: { 'ec2:osuser': user } }, `${f}: for ${user} only`);
    }
  });

  test('only the apply role may change the security group the config names', () => {
    const group = ec2.securityGroup!;
    const sgArn = new RegExp(`^arn:aws:ec2:${group.region}:\\d{12}:security-group/${group.id}$`);
    for (const action of ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress']) {
      assert.deepEqual(allowing(doc('pull-request-role.policy.json'), action), [], `pull requests cannot ${action}`);
      const allowed = allowing(doc('apply-role.policy.json'), action);
      assert.equal(allowed.length, 1);
      assert.ok(list(allowed[0]!.Resource).every((r) => sgArn.test(r)), `${action} on ${group.id} only`);
    }
    // Both read it: plan shows what apply would change.
    for (const f of ['pull-request-role.policy.json', 'apply-role.policy.json'] as const) assert.equal(allowing(doc(f), 'ec2:DescribeSecurityGroups').length, 1, f);
  });

  test('the pull-request role reads parameter metadata, never a value', () => {
    assert.equal(allowing(doc('pull-request-role.policy.json'), 'ssm:DescribeParameters').length, 1);
    for (const action of ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath', 'kms:Decrypt', 'ssm:SendCommand']) {
      assert.deepEqual(allowing(doc('pull-request-role.policy.json'), action), [], action);
    }
  });
});

describe('aws/iam: who may assume each role', () => {
  const condition = (f: 'pull-request-role.trust.json' | 'apply-role.trust.json') => {
    const st = doc(f).Statement;
    assert.equal(st.length, 1, f);
    assert.equal(st[0]!.Action, 'sts:AssumeRoleWithWebIdentity');
    assert.match(st[0]!.Principal!.Federated, new RegExp(`^arn:aws:iam::\\d{12}:oidc-provider/${OIDC}$`));
    const eq = st[0]!.Condition!.StringEquals!;
    assert.deepEqual(Object.keys(st[0]!.Condition!), ['StringEquals'], `${f}: exact matches only, no wildcard`);
    assert.equal(eq[`${OIDC}:aud`], 'sts.amazonaws.com', f);
    return list(eq[`${OIDC}:sub`]);
  };

  test('the apply role: only jobs in the protected environment the apply workflow runs in', () => {
    assert.equal(applyJob.environment, ec2.name);
    assert.deepEqual(condition('apply-role.trust.json'), [`repo:OWNER/REPO:environment:${ec2.name}`]);
  });

  test('the pull-request role: pull requests, and main (drift); never an environment', () => {
    const subs = condition('pull-request-role.trust.json');
    assert.deepEqual(subs, ['repo:OWNER/REPO:pull_request', 'repo:OWNER/REPO:ref:refs/heads/main']);
    assert.ok(subs.every((s) => !s.includes(':environment:')));
  });
});
