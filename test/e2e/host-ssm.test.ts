// End to end, secrets that stay in AWS (`secrets.source: host-ssm`): the test host reads its own
// secrets from the Parameter Store stand-in at activation, with the keys its instance metadata
// service (the stand-in's IMDSv2) hands out, as an EC2 instance with a role does. The runner never
// holds a value: it asks only for parameter versions, and its output holds none of them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSsmStandin, type SsmStandin } from '../support/ssm-standin.js';
import { expectExit } from './checks.js';
import { currentRelease, ENV, hostLogs, leakedSecrets, PROXIES, STATE, startE2E, unitStarts, type E2E } from './support.js';

const PREFIX = '/clawops/testhost';
const RUNNER_KEY = { accessKeyId: 'AKIACLAWOPSRUNNER001', secretAccessKey: `canary-runner-aws-secret-${randomBytes(8).toString('hex')}` };
const canary = (n: string) => `canary-ssm-${n.toLowerCase().replace(/_/g, '-')}-${randomBytes(9).toString('hex')}`;

let e: E2E;
let ssm: SsmStandin;
/** Every value the stand-in has held: none may reach the runner's output. */
const held: string[] = [];

function put(name: string, rotate = false): string {
  const value = canary(name);
  held.push(value);
  if (rotate) ssm.rotate(`${PREFIX}/${name}`, value);
  else ssm.parameters.set(`${PREFIX}/${name}`, value);
  return value;
}

const hostFile = (path: string) => e.sh(`sudo cat '${path}'`);

describe('secrets the host reads itself from Parameter Store', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-hostssm');
    // The stand-in listens on the runner's side of the host's network link, where only that host reaches it.
    const runnerSide = /^10\.213\.(\d+)\.2$/.test(e.host.host) ? e.host.host.replace(/\.2$/, '.1') : e.host.host;
    ssm = await startSsmStandin({ host: runnerSide, keys: [RUNNER_KEY] });
    // The runner holds no secret value but its SSH key: each one is a parameter in the stand-in.
    for (const name of Object.keys(e.secrets)) {
      if (name === 'TESTHOST_SSH_KEY') continue;
      delete e.secrets[name];
      put(name);
    }
    // Its own AWS keys ask only for versions (DescribeParameters).
    Object.assign(e.secrets, { AWS_ACCESS_KEY_ID: RUNNER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: RUNNER_KEY.secretAccessKey, AWS_ENDPOINT_URL_SSM: ssm.url });
    await e.editRepo(`config/environments/${ENV}.yaml`, (t) =>
      // The test host's environment is a test environment (test: true): stand-ins of AWS are allowed.
      t.replace(
        /^secrets:\n {2}source: env\n/m,
        `secrets:\n  source: host-ssm\n  region: us-east-2\n  prefix: ${PREFIX}\n  endpoints:\n    ssm: ${ssm.url}\n    metadata: ${ssm.imdsUrl}\n`,
      ),
    );
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
    await ssm?.close();
  });

  it('apply: the proxies\' and the gateway\'s env files hold the values the host read; the runner never saw one', async () => {
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    await expectExit(run, 0, e);
    assert.match(run.stderr, /reading secrets from Parameter Store on the host/);
    const gemini = await hostFile(`${PROXIES}/gemini/proxy.env`);
    assert.match(gemini, new RegExp(`^GEMINI_API_KEY=${ssm.parameters.get(`${PREFIX}/GEMINI_API_KEY`)}$`, 'm'));
    const gateway = await hostFile(`${STATE}/gateway.env`);
    assert.match(gateway, new RegExp(`^GROQ_API_KEY=${ssm.parameters.get(`${PREFIX}/GROQ_API_KEY`)}$`, 'm'));
    assert.equal((await e.sh(`stat -c '%a %U' ${PROXIES}/gemini/proxy.env ${STATE}/gateway.env`)).trim(), '600 ubuntu\n600 ubuntu');
    // The values were read with the instance role's keys; the runner's keys only described.
    assert.ok(ssm.requests.filter((r) => r.target === 'AmazonSSM.GetParameters').every((r) => r.accessKeyId === ssm.instanceKey.accessKeyId && r.body.WithDecryption));
    assert.ok(ssm.requests.filter((r) => r.accessKeyId === RUNNER_KEY.accessKeyId).every((r) => r.target === 'AmazonSSM.DescribeParameters'));
    const record = await currentRelease(e);
    assert.deepEqual(Object.keys((record.files[`${PROXIES}/gemini/proxy.env`] as { parameters?: object }).parameters ?? {}), [`${PREFIX}/GEMINI_API_KEY`]);
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr, held), []);
  });

  it('a rotated parameter: plan shows it by version, with no value; apply restarts what reads it', async () => {
    const before = await unitStarts(e);
    const value = put('GEMINI_API_KEY', true);
    const plan = await e.cli(['plan', '--env', ENV]);
    await expectExit(plan, 0, e);
    assert.match(plan.stdout, new RegExp(`rotated: parameter ${PREFIX}/GEMINI_API_KEY version 1 → 2`));
    assert.match(plan.stdout, /gemini-proxy/);
    // With the smoke checks: they need the gateway's token, which stays on the host, and say so.
    const run = await e.cli(['apply', '--env', ENV]);
    await expectExit(run, 0, e);
    assert.match(run.stderr, /smoke checks skipped: the gateway token stays on the host \(secrets: host-ssm\); set OPENCLAW_GATEWAY_TOKEN where clawops runs to run them/);
    assert.match(await hostFile(`${PROXIES}/gemini/proxy.env`), new RegExp(`^GEMINI_API_KEY=${value}$`, 'm'));
    const afterStarts = await unitStarts(e);
    assert.notEqual(afterStarts['gemini-proxy.service'], before['gemini-proxy.service'], 'the gemini proxy restarted');
    assert.equal(afterStarts['openclaw-gateway.service'], before['openclaw-gateway.service'], 'the gateway did not');
    const again = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    await expectExit(again, 0, e);
    for (const r of [plan, run, again]) assert.deepEqual(leakedSecrets(r.stdout + r.stderr, held), []);
  });

  it('a parameter that is gone: the activation fails before any file changes, naming it; the host stays on its release', async () => {
    const live = await currentRelease(e);
    const gatewayBefore = await hostFile(`${STATE}/gateway.env`);
    const starts = await unitStarts(e);
    // Rotated so the gateway's env file is to be written, then removed, as an operator deleting it.
    put('GROQ_API_KEY', true);
    ssm.parameters.delete(`${PREFIX}/GROQ_API_KEY`);
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    assert.notEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout + run.stderr, new RegExp(`secrets failed: parameter ${PREFIX}/GROQ_API_KEY: not found in Parameter Store \\(us-east-2\\)`));
    assert.equal((await currentRelease(e)).id, live.id, 'the host is on the release it ran');
    assert.equal(await hostFile(`${STATE}/gateway.env`), gatewayBefore, 'the gateway\'s env file is as it was');
    assert.deepEqual(await unitStarts(e), starts, 'nothing restarted');
    assert.equal((await e.sh(`sudo find ${STATE} ${PROXIES} -name '*.clawops-*' | wc -l`)).trim(), '0', 'no part-written file left');
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr + (await hostLogs(e)), held), []);
  });
});
