/**
 * Errors that reach the operator are one line in clawops's words, name what is wrong and never a
 * secret's value: a secret an env file cannot carry is refused before any host is reached; a bug
 * says it is one and where its details went.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { clawops } from '../support/cli.js';
import { remoteFixture } from '../support/ssh-standin.js';

const remote = remoteFixture('errors-test');

describe('one line for what goes wrong', () => {
  test('a secret with a trailing newline: plan, drift and apply refuse by its name, before the host', async () => {
    const value = `${remote.secrets.MISTRAL_API_KEY}\n`;
    for (const args of [['plan'], ['drift'], ['apply', '--auto-approve']]) {
      const r = await clawops([...args, '--env', 'remote', '--root', remote.root], { env: { ...remote.env, MISTRAL_API_KEY: value } });
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        'error: MISTRAL_API_KEY from the environment: the value holds a line break or NUL (a trailing newline?), which an env file cannot carry; set it again without one\n',
        args[0],
      );
      assert.ok(!r.stdout.includes(remote.secrets.MISTRAL_API_KEY!) && !r.stderr.includes(remote.secrets.MISTRAL_API_KEY!));
    }
    assert.deepEqual(remote.ssh.commands, [], 'nothing reached the host');
  });

  test('a bug: one line saying so, and the details in a file of their own without the secret values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawops-crash-'));
    const canary = 'canary-in-a-stack-0b1c2d';
    const said: string[] = [];
    const broken = {
      out: () => {
        throw new TypeError(`cannot read properties of undefined (reading '${canary}')`);
      },
      err: (text: string) => said.push(text),
    };
    const code = await main(['validate', '--root', remote.root], { PATH: process.env.PATH, TMPDIR: dir, SOME_TOKEN: canary }, broken);
    assert.equal(code, 1);
    assert.equal(said.length, 1, said.join('\n'));
    const [file] = await readdir(dir);
    assert.ok(file, 'a details file was written');
    assert.equal(said[0], `error: validate failed unexpectedly (TypeError); this is a bug in clawops: the details are in ${join(dir, file)}; please attach it to an issue`);
    const details = await readFile(join(dir, file), 'utf8');
    assert.match(details, /^clawops validate --root /);
    assert.match(details, /TypeError: cannot read properties of undefined \(reading '\*\*\*'\)\n\s+at /);
    assert.ok(!details.includes(canary), 'the value from the environment is replaced');
  });
});
