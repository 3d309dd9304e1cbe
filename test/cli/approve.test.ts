/**
 * apply and rollback against an environment reached over SSH ask before they change anything, on
 * a terminal; without one they refuse unless --auto-approve says yes up front. The environment
 * here is this machine behind an SSH stand-in on loopback (files only, no services), and the
 * terminal a real pseudo-terminal (python3's pty module) that answers once the question is asked.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clawops, clawopsOnTerminal, scratchRepo, type Run } from '../support/cli.js';
import { remoteEnvironment, startSshStandin, type SshStandin } from '../support/ssh-standin.js';

let ssh: SshStandin;
let root: string;
let state: string;
let SECRETS: Record<string, string>;
const runs: Run[] = [];

before(async () => {
  ssh = await startSshStandin();
  root = await scratchRepo();
  ({ state, secrets: SECRETS } = await remoteEnvironment(root, ssh));
});

after(async () => {
  await ssh.close();
});

const env = () => ({ ...SECRETS, REMOTE_SSH_KEY: ssh.clientKey, CLAWOPS_REVISION: 'approve-test', NO_COLOR: '1' });

async function run(args: string[]): Promise<Run> {
  const r = await clawops([...args, '--root', root], { env: env() });
  runs.push(r);
  return r;
}

function onTerminal(args: string[], answer: string): Promise<{ code: number; screen: string }> {
  return clawopsOnTerminal([...args, '--root', root], { env: env(), answer }).then((r) => {
    runs.push({ code: r.code, stdout: r.screen, stderr: '' });
    return r;
  });
}

const releases = async () => (existsSync(join(state, '.clawops/releases')) ? (await readdir(join(state, '.clawops/releases'))).sort() : []);

describe('apply and rollback ask first where they change a host elsewhere', () => {
  test('without a terminal and without --auto-approve, apply refuses before it connects', async () => {
    const r = await run(['apply', '--env', 'remote']);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, `error: apply changes remote (${userInfo().username}@127.0.0.1) and there is no terminal to ask on: pass --auto-approve to apply without asking\n`);
    assert.deepEqual(ssh.commands, [], 'nothing reached the host');
  });

  test('on a terminal, apply shows the plan and asks; "no" changes nothing and releases the lock', async () => {
    const r = await onTerminal(['apply', '--env', 'remote'], 'no');
    assert.equal(r.code, 1, r.screen);
    const plan = r.screen.indexOf('Plan: ');
    const question = r.screen.indexOf(`Do you want to apply these changes to remote (${userInfo().username}@127.0.0.1:${ssh.port})?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: no`);
    assert.ok(plan >= 0 && question > plan, `the plan, then the question:\n${r.screen}`);
    assert.match(r.screen, /^Apply cancelled: nothing was changed on remote\.$/m);
    assert.equal(existsSync(join(state, 'openclaw.json')), false);
    assert.deepEqual(await releases(), []);
    assert.equal(existsSync(join(state, '.clawops/lock')), false, 'the lock is released');
  });

  test('"yes" applies, printing the plan once', async () => {
    const r = await onTerminal(['apply', '--env', 'remote'], 'yes');
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /^Applied release \S+ to remote\.$/m);
    assert.equal(r.screen.match(/^Plan: /gm)?.length, 1);
    assert.ok(existsSync(join(state, 'openclaw.json')));
    assert.equal((await releases()).length, 1);
  });

  test('with nothing to change it asks nothing', async () => {
    const r = await onTerminal(['apply', '--env', 'remote'], 'no');
    assert.equal(r.code, 0, r.screen);
    assert.doesNotMatch(r.screen, /Do you want/);
    assert.match(r.screen, /^No changes: remote already matches approve-test\./m);
  });

  test('--auto-approve applies without a terminal; a saved plan counts as approved', async () => {
    const file = join(root, 'config/environments/remote.yaml');
    await writeFile(file, `${await readFile(file, 'utf8')}providers:\n  kimi:\n    upstream: http://127.0.0.1:9/kimi/v1\n`);
    const r = await run(['apply', '--env', 'remote', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await releases()).length, 2);

    const saved = join(root, 'plan.json');
    assert.equal((await run(['plan', '--env', 'remote', '--out', saved])).code, 0);
    const fromPlan = await run(['apply', saved]);
    assert.equal(fromPlan.code, 0, fromPlan.stderr);
    assert.match(fromPlan.stdout, /^No changes: remote already matches approve-test\./m);
  });

  test('a saved plan is refused once a secret it would write was rotated: the rotation is a change it never showed', async () => {
    const saved = join(root, 'plan-before-rotation.json');
    assert.equal((await run(['plan', '--env', 'remote', '--out', saved])).code, 0);
    assert.doesNotMatch(await readFile(saved, 'utf8'), new RegExp(SECRETS.MISTRAL_API_KEY!), 'no value in the saved plan');
    const proxyEnv = join(state, 'proxies/mistral/proxy.env');
    const before = await readFile(proxyEnv, 'utf8');
    const rotated = `canary-mistral-rotated-${Date.now()}`;
    const r = await clawops(['apply', saved, '--root', root], { env: { ...env(), MISTRAL_API_KEY: rotated } });
    runs.push(r);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: \S+: plan: a secret value changed since this plan was made, so its env file would differ from what the plan showed; make a new plan$/m);
    assert.equal(await readFile(proxyEnv, 'utf8'), before, 'nothing rewritten');
    assert.ok(!r.stderr.includes(rotated) && !r.stdout.includes(rotated));
  });

  test('rollback asks too; "no" leaves the current release live', async () => {
    const before = await readFile(join(state, '.clawops/current/release.json'), 'utf8');
    const r = await onTerminal(['rollback', '--env', 'remote'], 'nope');
    assert.equal(r.code, 1, r.screen);
    assert.match(r.screen, /Do you want to roll back remote \(.*\)\?\n {2}Only 'yes' will be accepted to approve\./);
    assert.match(r.screen, /^Rollback cancelled: nothing was changed on remote\.$/m);
    assert.equal(await readFile(join(state, '.clawops/current/release.json'), 'utf8'), before);
    const refused = await run(['rollback', '--env', 'remote']);
    assert.equal(refused.code, 64);
    assert.match(refused.stderr, /pass --auto-approve to rollback without asking/);
  });

  test('no secret value appears in any output', () => {
    for (const r of runs) {
      for (const value of Object.values(SECRETS)) assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), 'a secret value leaked');
    }
  });
});
