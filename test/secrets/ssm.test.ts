/**
 * Parameter Store as a secret source, through the real AWS SDK client over HTTP to a local
 * stand-in (AWS_ENDPOINT_URL_SSM, as the SDK reads it), in process and through the CLI.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadSecrets, SecretSourceError } from '../../src/cli/secrets.js';
import type { Environment } from '../../src/schema/environment.js';
import { clawops, scratchRepo } from '../support/cli.js';
import { startSsmStandin, type SsmStandin } from '../support/ssm-standin.js';

const AWS = { AWS_ACCESS_KEY_ID: 'AKIACLAWOPSTEST00001', AWS_SECRET_ACCESS_KEY: 'canary-aws-secret-key-4b1d' };
const PREFIX = '/clawops/ec2';
const ssmEnv = { secrets: { source: 'ssm', prefix: PREFIX, region: 'us-east-2' } } as Environment;
const canary = (n: string) => `canary-${n.toLowerCase()}-${randomBytes(6).toString('hex')}`;

/** A scratch repository whose local environment reads its secrets from /clawops/local in eu-west-1. */
async function ssmRepo(): Promise<string> {
  const root = await scratchRepo();
  const file = join(root, 'config/environments/local.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, `${text.slice(0, text.indexOf('secrets:'))}secrets:\n  source: ssm\n  prefix: /clawops/local\n  region: eu-west-1\n`);
  return root;
}

let ssm: SsmStandin;
before(async () => {
  ssm = await startSsmStandin({ keys: [{ accessKeyId: AWS.AWS_ACCESS_KEY_ID, secretAccessKey: AWS.AWS_SECRET_ACCESS_KEY }] });
  Object.assign(process.env, AWS, { AWS_ENDPOINT_URL_SSM: ssm.url });
});
after(() => ssm?.close());

describe('Parameter Store secrets', () => {
  test('each secret is read from <prefix>/<NAME>, decrypted, ten names to a signed call; a missing one has no value', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `SECRET_${i}`);
    const values = Object.fromEntries(names.slice(0, 11).map((n) => [n, canary(n)]));
    for (const [n, v] of Object.entries(values)) ssm.parameters.set(`${PREFIX}/${n}`, v);
    const before = ssm.requests.length;

    const { lookup } = await loadSecrets(ssmEnv, names, {}, '/nonexistent');
    for (const n of names.slice(0, 11)) assert.equal(lookup(n), values[n], n);
    assert.equal(lookup('SECRET_11'), undefined);

    const sent = ssm.requests.slice(before);
    assert.deepEqual(sent.map((r) => r.body.Names!.length), [10, 2]);
    for (const r of sent) {
      assert.equal(r.target, 'AmazonSSM.GetParameters');
      assert.equal(r.body.WithDecryption, true);
      assert.match(r.authorization, /^AWS4-HMAC-SHA256 Credential=AKIACLAWOPSTEST00001\/\d{8}\/us-east-2\/ssm\/aws4_request, /);
    }
    assert.deepEqual(sent.flatMap((r) => r.body.Names), names.map((n) => `${PREFIX}/${n}`));
  });

  test("AWS refusing the call is one error naming the region, the prefix and AWS's reason", async () => {
    ssm.failNext('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ssm:GetParameters');
    const err = await loadSecrets(ssmEnv, ['GROQ_API_KEY'], {}, '/nonexistent').then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SecretSourceError, String(err));
    assert.match(err.message, /^Parameter Store \(us-east-2, \/clawops\/ec2\/\): AccessDeniedException: User: .* is not authorized to perform: ssm:GetParameters$/);
  });

  test('clawops apply writes the values it read into the env files, and prints none of them', async () => {
    const root = await ssmRepo();
    const declared = Object.keys((parseYaml(await readFile(join(root, 'config/secrets.yaml'), 'utf8')) as { secrets: object }).secrets);
    const values = Object.fromEntries(declared.map((n) => [n, canary(n)]));
    for (const [n, v] of Object.entries(values)) ssm.parameters.set(`/clawops/local/${n}`, v);
    const state = await mkdtemp(join(tmpdir(), 'clawops-ssm-state-'));

    const run = await clawops(['apply', '--env', 'local', '--root', root], {
      env: { ...AWS, AWS_ENDPOINT_URL_SSM: ssm.url, OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'ssm-test' },
    });
    assert.equal(run.code, 0, run.stderr);
    const gatewayEnv = await readFile(join(state, 'gateway.env'), 'utf8');
    assert.match(gatewayEnv, new RegExp(`^GROQ_API_KEY=${values.GROQ_API_KEY}$`, 'm'));
    assert.match(gatewayEnv, new RegExp(`^OPENCLAW_GATEWAY_TOKEN=${values.OPENCLAW_GATEWAY_TOKEN}$`, 'm'));
    for (const v of [...Object.values(values), AWS.AWS_SECRET_ACCESS_KEY]) {
      assert.ok(!run.stdout.includes(v) && !run.stderr.includes(v), `a secret value in the output:\n${run.stdout}\n${run.stderr}`);
    }
  });

  test('clawops apply with Parameter Store refusing: one line, exit 1, nothing written', async () => {
    const root = await ssmRepo();
    const state = await mkdtemp(join(tmpdir(), 'clawops-ssm-state-'));
    ssm.failNext('InternalServerError', 'try again later');
    const run = await clawops(['apply', '--env', 'local', '--root', root], {
      env: { ...AWS, AWS_ENDPOINT_URL_SSM: ssm.url, OPENCLAW_STATE_DIR: state },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr.trim().split('\n').at(-1), 'error: Parameter Store (eu-west-1, /clawops/local/): InternalServerError: try again later');
    assert.deepEqual(await readdir(state), []);
  });
});
