// SSH through an SSM session: the exact command clawops runs, and the refusal, before anything
// starts, when the operator's machine lacks the AWS CLI or the Session Manager plugin.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ssmProxyCommand, ssmSessionPrerequisites } from '../../src/transport/ssm-session.js';
import { clawops, scratchRepo } from '../support/cli.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clawops-ssm-session-'));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function binDir(name: string, programs: string[]): Promise<string> {
  const dir = join(scratch, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  for (const p of programs) {
    await writeFile(join(dir, p), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, p), 0o755);
  }
  return dir;
}

describe('the SSM session command', () => {
  test('is the one AWS documents for ssh, with the instance, port and region filled in', () => {
    assert.equal(
      ssmProxyCommand({ instanceId: 'i-0123456789abcdef0', region: 'us-east-2' }, 22),
      'aws ssm start-session --target i-0123456789abcdef0 --document-name AWS-StartSSHSession --parameters portNumber=22 --region us-east-2',
    );
  });

  test('without the AWS CLI and the plugin on PATH, both are named with where to get them', async () => {
    const message = ssmSessionPrerequisites(await binDir('none', []));
    assert.equal(
      message,
      'reaching the host through SSM needs aws (the AWS CLI) and session-manager-plugin (the Session Manager plugin) on PATH: ' +
        'install the AWS CLI (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and ' +
        'the Session Manager plugin (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html)',
    );
    assert.equal(ssmSessionPrerequisites(undefined), message);
  });

  test('with only the AWS CLI, the plugin alone is missing', async () => {
    assert.match(ssmSessionPrerequisites(await binDir('aws-only', ['aws']))!, /needs session-manager-plugin \(the Session Manager plugin\) on PATH: install the Session Manager plugin \(https:/);
  });

  test('a file that is not executable does not count', async () => {
    const dir = await binDir('not-executable', ['aws', 'session-manager-plugin']);
    await chmod(join(dir, 'session-manager-plugin'), 0o644);
    assert.match(ssmSessionPrerequisites(dir)!, /needs session-manager-plugin/);
  });

  test('with both (in any of PATH\'s folders), nothing is missing', async () => {
    const a = await binDir('a', ['aws']);
    const b = await binDir('b', ['session-manager-plugin']);
    assert.equal(ssmSessionPrerequisites(`${a}:/nonexistent:${b}`), undefined);
  });
});

describe('clawops plan on an environment reached through SSM', () => {
  test('refuses in one line naming what is missing, and starts nothing', async () => {
    const repo = await scratchRepo();
    try {
      const file = join(repo, 'config/environments/ec2.yaml');
      const text = await readFile(file, 'utf8');
      // The ec2 environment is reached through SSM; its host here is a documentation address (RFC 5737).
      assert.match(text, /^  via:\n    ssm: /m);
      await writeFile(file, text.replace(/^  host: .*$/m, '  host: 192.0.2.10'));
      const run = await clawops(['plan', '--env', 'ec2', '--root', repo], { env: { PATH: await binDir('cli-none', []) } });
      assert.notEqual(run.code, 0);
      const lines = run.stderr.trim().split('\n');
      assert.match(lines.at(-1)!, /ubuntu@192\.0\.2\.10:22: connect: reaching the host through SSM needs aws \(the AWS CLI\) and session-manager-plugin/);
      assert.equal(lines.filter((l) => l.includes('through SSM')).length, 1, run.stderr);
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});
