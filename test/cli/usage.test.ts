/**
 * The command line as people expect it of their other tools: each command's own help, and a
 * mistake told in one line of clawops's words (with the likely fix), exit 64.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands.js';
import { clawops } from '../support/cli.js';

describe('help', () => {
  test("apply --help is apply's help: usage, one line per option, its exit codes", async () => {
    const r = await clawops(['apply', '--help']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: clawops apply --env NAME .*\n {7}clawops apply FILE\n/);
    assert.match(r.stdout, /^ {2}--auto-approve +Change the host without asking/m);
    assert.match(r.stdout, /^ {2}--lock-wait SECONDS +How long to wait/m);
    assert.match(r.stdout, /^ {2}4 +locked by another apply$/m);
    assert.doesNotMatch(r.stdout, /^ {2}2 /m, 'apply never exits 2');
    assert.doesNotMatch(r.stdout, /pr-report|drift/, 'not the whole CLI');
  });

  test('every command has its own help, also as `clawops help COMMAND` and with -h', async () => {
    for (const c of COMMANDS) {
      const r = await clawops([c.name, '-h']);
      assert.equal(r.code, 0, c.name);
      assert.ok(r.stdout.startsWith(`Usage: clawops ${c.name}`), `${c.name}: ${r.stdout.slice(0, 80)}`);
    }
    assert.equal((await clawops(['help', 'rollback'])).stdout, (await clawops(['rollback', '--help'])).stdout);
  });

  test('clawops --help stays the overview; clawops alone shows it and exits 64', async () => {
    const r = await clawops(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^ {2}clawops ${c.name}\\b`, 'm'));
    const bare = await clawops([]);
    assert.equal(bare.code, 64);
    assert.equal(bare.stdout, r.stdout);
  });
});

describe('mistakes: one line, exit 64', () => {
  const cases: [string[], string][] = [
    [['apply', '--env', 'ec2', '--yes'], 'error: unknown option --yes for apply; did you mean --auto-approve?'],
    [['plan', '--env', 'ec2', '--detailed-exit-code'], 'error: unknown option --detailed-exit-code for plan; did you mean --detailed-exitcode?'],
    [['rollback', '--env', 'ec2', '--lockwait', '5'], 'error: unknown option --lockwait for rollback; did you mean --lock-wait?'],
    [['validate', '--bogus'], 'error: unknown option --bogus for validate'],
    [['drift', '--json', '--env'], 'error: option --env of drift needs a value: --env NAME'],
    [['render', '--out', '--env', 'local'], 'error: option --out of render needs a value: --out DIR'],
    [['validate', '--json=yes'], 'error: unknown option --json for validate'],
    [['plan', '--verbose=1', '--env', 'ec2'], 'error: option --verbose of plan takes no value'],
    [['plna', '--env', 'ec2'], 'error: unknown command plna; did you mean plan?'],
    [['deploy'], 'error: unknown command deploy'],
    [['plan', '--env', 'ec2', 'now'], 'error: unexpected argument now for plan (it takes no arguments; clawops plan --help)'],
    [['apply', 'a.json', 'b.json'], 'error: unexpected argument b.json for apply (it takes one argument, FILE; clawops apply --help)'],
  ];
  for (const [args, line] of cases) {
    test(`clawops ${args.join(' ')}`, async () => {
      const r = await clawops(args);
      assert.equal(r.code, 64);
      assert.equal(r.stderr, `${line}\n`);
      assert.equal(r.stdout, '');
    });
  }

  test("Terraform's spelling -auto-approve is understood", async () => {
    const r = await clawops(['apply', '-auto-approve', '--env', 'nowhere']);
    assert.equal(r.stderr, 'error: unknown environment "nowhere" (expected one of: ec2, local)\n');
  });
});
