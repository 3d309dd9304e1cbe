/**
 * Secrets the host reads itself (`secrets.source: host-ssm`): the versions a plan compares
 * (DescribeParameters, no value), and the program the host runs at activation (dist/host/ssm-env.mjs,
 * run here by this machine's Node), through the real AWS SDK over HTTP to the Parameter Store
 * stand-in, with credentials from its instance metadata service (IMDSv2) as on EC2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parameterVersions } from '../../src/secrets/ssm.js';
import { diff } from '../../src/plan/diff.js';
import type { HostFacts, ReleaseRecord } from '../../src/plan/facts.js';
import type { DesiredState } from '../../src/render/desired.js';
import { REPO_ROOT } from '../support/repo.js';
import { startSsmStandin, type SsmStandin } from '../support/ssm-standin.js';

const exec = promisify(execFile);
const PREFIX = '/clawops/ec2';
const RUNNER_KEY = { accessKeyId: 'AKIACLAWOPSTEST00002', secretAccessKey: `canary-runner-secret-${randomBytes(6).toString('hex')}` };
const canary = (n: string) => `canary-${n.toLowerCase()}-${randomBytes(6).toString('hex')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const PROGRAM = join(REPO_ROOT, 'dist/host/ssm-env.mjs');
/** The release's Node, as on a host: the pinned Node 24 of tools/. */
const NODE = join(REPO_ROOT, 'tools/node_modules/.bin/node');

let ssm: SsmStandin;
before(async () => {
  ssm = await startSsmStandin({ keys: [RUNNER_KEY] });
});
after(() => ssm?.close());

/** The program as the activation runs it: a clean environment, the region, the two endpoints. */
async function runProgram(spec: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(NODE, [PROGRAM, spec], {
      env: { PATH: '/usr/bin:/bin', HOME: tmpdir(), AWS_REGION: 'us-east-2', AWS_ENDPOINT_URL_SSM: ssm.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: ssm.imdsUrl },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A staged release: a template env file and a record, as apply stages them. */
async function stagedRelease(vars: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-host-ssm-'));
  const key = randomBytes(32).toString('hex');
  await writeFile(join(dir, 'digest.key'), `${key}\n`);
  const template = `# Managed by clawops. Values are filled in at apply time from the secret source.\n${Object.keys(vars).sort().map((k) => `${k}=`).join('\n')}\n`;
  await writeFile(join(dir, 'gateway.env'), template, { mode: 0o600 });
  const record = { id: 'r1', files: { '/srv/gateway.env': { digest: 'pending: filled in on the host', sensitive: true, name: 'gateway.env', mode: 0o600, template: sha256(template) } } };
  await writeFile(join(dir, 'release.json'), JSON.stringify(record));
  const spec = { region: 'us-east-2', prefix: PREFIX, record: join(dir, 'release.json'), digestKey: join(dir, 'digest.key'), files: [{ path: '/srv/gateway.env', staged: join(dir, 'gateway.env'), vars }] };
  await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
  return { dir, key, template, spec: join(dir, 'spec.json') };
}

describe('host-ssm: versions on the runner, values on the host', () => {
  test('plan reads each parameter\'s version with DescribeParameters, 50 names to a signed call, no value asked or returned', async () => {
    const names = Array.from({ length: 55 }, (_, i) => `SECRET_${i}`);
    for (const n of names.slice(0, 54)) ssm.parameters.set(`${PREFIX}/${n}`, canary(n));
    ssm.rotate(`${PREFIX}/SECRET_3`, canary('SECRET_3'));
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: RUNNER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: RUNNER_KEY.secretAccessKey, AWS_ENDPOINT_URL_SSM: ssm.url });
    const before = ssm.requests.length;
    const versions = await parameterVersions({ region: 'us-east-2', prefix: PREFIX, names });
    assert.equal(versions.SECRET_3, 2);
    assert.equal(versions.SECRET_0, 1);
    assert.equal(versions.SECRET_54, undefined, 'a parameter that does not exist has no version');
    assert.equal(Object.keys(versions).length, 54);
    const sent = ssm.requests.slice(before);
    assert.ok(sent.every((r) => r.target === 'AmazonSSM.DescribeParameters' && r.accessKeyId === RUNNER_KEY.accessKeyId));
    assert.ok(sent.every((r) => (r.body.ParameterFilters?.[0]?.Values?.length ?? 0) <= 50 && (r.body.MaxResults ?? 0) <= 50));
    assert.deepEqual(sent.flatMap((r) => r.body.ParameterFilters![0]!.Values!).filter((v, i, a) => a.indexOf(v) === i).length, 55);
  });

  test('the host program fills the staged env file from Parameter Store with the instance role\'s keys, and records each version', async () => {
    const values = { GROQ_API_KEY: canary('groq'), OPENCLAW_GATEWAY_TOKEN: canary('token') };
    ssm.parameters.set(`${PREFIX}/GROQ_API_KEY`, values.GROQ_API_KEY);
    ssm.rotate(`${PREFIX}/OPENCLAW_GATEWAY_TOKEN`, values.OPENCLAW_GATEWAY_TOKEN);
    ssm.rotate(`${PREFIX}/OPENCLAW_GATEWAY_TOKEN`, values.OPENCLAW_GATEWAY_TOKEN);
    const r = await stagedRelease({ GROQ_API_KEY: 'GROQ_API_KEY', OPENCLAW_GATEWAY_TOKEN: 'OPENCLAW_GATEWAY_TOKEN' });
    const before = ssm.requests.length;
    const run = await runProgram(r.spec);
    assert.equal(run.code, 0, run.stderr);
    const env = await readFile(join(r.dir, 'gateway.env'), 'utf8');
    assert.match(env, new RegExp(`^GROQ_API_KEY=${values.GROQ_API_KEY}$`, 'm'));
    assert.match(env, new RegExp(`^OPENCLAW_GATEWAY_TOKEN=${values.OPENCLAW_GATEWAY_TOKEN}$`, 'm'));
    assert.equal((await stat(join(r.dir, 'gateway.env'))).mode & 0o777, 0o600);
    const record = JSON.parse(await readFile(join(r.dir, 'release.json'), 'utf8')) as ReleaseRecord;
    const entry = record.files['/srv/gateway.env']!;
    assert.deepEqual(entry.parameters, { [`${PREFIX}/GROQ_API_KEY`]: ssm.versionOf(`${PREFIX}/GROQ_API_KEY`), [`${PREFIX}/OPENCLAW_GATEWAY_TOKEN`]: 2 });
    assert.equal(entry.digest, `hmac:${createHmac('sha256', r.key).update(sha256(env)).digest('hex')}`);
    // Signed with the instance role's temporary keys, fetched the IMDSv2 way: a token first, then every read with it.
    const sent = ssm.requests.slice(before);
    assert.ok(sent.length >= 1 && sent.every((x) => x.target === 'AmazonSSM.GetParameters' && x.body.WithDecryption === true && x.accessKeyId === ssm.instanceKey.accessKeyId));
    assert.ok(ssm.imdsRequests.some((x) => x.method === 'PUT' && x.path === '/latest/api/token'));
    assert.ok(ssm.imdsRequests.filter((x) => x.method === 'GET').every((x) => x.token), 'every metadata read carried its token');
    for (const v of Object.values(values)) assert.ok(!run.stdout.includes(v) && !run.stderr.includes(v), 'a value in the program\'s output');
  });

  test('a parameter that does not exist: exit 1, one line naming it, the staged file and the record untouched', async () => {
    ssm.parameters.set(`${PREFIX}/GROQ_API_KEY`, canary('groq'));
    const r = await stagedRelease({ GROQ_API_KEY: 'GROQ_API_KEY', KIMI_API_KEY: 'KIMI_API_KEY_GONE' });
    const recordBefore = await readFile(join(r.dir, 'release.json'), 'utf8');
    const run = await runProgram(r.spec);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim(), `secrets failed: parameter ${PREFIX}/KIMI_API_KEY_GONE: not found in Parameter Store (us-east-2)`);
    assert.equal(await readFile(join(r.dir, 'gateway.env'), 'utf8'), r.template);
    assert.equal(await readFile(join(r.dir, 'release.json'), 'utf8'), recordBefore);
  });

  test('AWS refusing the read: the parameters and AWS\'s reason, no value', async () => {
    ssm.parameters.set(`${PREFIX}/GROQ_API_KEY`, canary('groq'));
    const r = await stagedRelease({ GROQ_API_KEY: 'GROQ_API_KEY' });
    ssm.failNext('AccessDeniedException', 'User: arn:aws:sts::123456789012:assumed-role/clawops-host/i-0abc is not authorized to perform: ssm:GetParameters');
    const run = await runProgram(r.spec);
    assert.equal(run.code, 1);
    assert.match(run.stderr.trim(), new RegExp(`^secrets failed: parameter ${PREFIX}/GROQ_API_KEY: AccessDeniedException: User: .* is not authorized to perform: ssm:GetParameters$`));
  });
});

describe('host-ssm: a plan compares env files by parameter version, without a value', () => {
  const envFile = { path: '/srv/gateway.env', name: 'gateway.env', role: 'env' as const, mode: 0o600, owner: 'ubuntu', content: '# t\nGROQ_API_KEY=\n', sensitive: true, secrets: { GROQ_API_KEY: 'GROQ_API_KEY' } };
  const desired = { environment: 'ec2', services: 'none', files: [envFile], units: [], host: { clawopsDir: '/srv/.clawops' } } as unknown as DesiredState;
  const key = 'k'.repeat(64);
  const hostSha = sha256('GROQ_API_KEY=whatever-the-host-holds\n');
  const facts = (parameters: Record<string, number> | undefined, digest = `hmac:${createHmac('sha256', key).update(hostSha).digest('hex')}`): HostFacts => ({
    files: { '/srv/gateway.env': { sha256: hostSha, mode: '600', owner: 'ubuntu' } },
    units: {},
    runtime: { node: null, openclaw: null },
    release: { id: 'r1', revision: 'a', appliedAt: '', planDigest: '', units: [], summary: { chain: [], providers: {}, agents: {} }, files: { '/srv/gateway.env': { digest, sensitive: true, name: 'gateway.env', mode: 0o600, owner: 'ubuntu', template: sha256(envFile.content), ...(parameters ? { parameters } : {}) } } },
    releases: ['r1'],
    lock: null,
    digestKey: key,
  });
  const plan = (f: HostFacts, versions: Record<string, number> | null) =>
    diff({ desired, facts: f, summary: f.release!.summary, hostSecrets: { prefix: PREFIX, versions }, target: 't', revision: 'b' }).files[0]!;

  test('a rotated parameter is a change, named by its version', () => {
    const change = plan(facts({ [`${PREFIX}/GROQ_API_KEY`]: 3 }), { GROQ_API_KEY: 4 });
    assert.equal(change.action, 'update');
    assert.equal(change.reason, `rotated: parameter ${PREFIX}/GROQ_API_KEY version 3 → 4`);
    assert.equal(change.cause, 'not-yet-applied');
  });

  test('the same version is no change; versions not at hand leave the file uncompared', () => {
    assert.deepEqual([plan(facts({ [`${PREFIX}/GROQ_API_KEY`]: 3 }), { GROQ_API_KEY: 3 })].map((c) => [c.action, c.reason]), [['no-op', 'unchanged']]);
    const p = diff({ desired, facts: facts({ [`${PREFIX}/GROQ_API_KEY`]: 3 }), summary: { chain: [], providers: {}, agents: {} }, hostSecrets: { prefix: PREFIX, versions: null }, target: 't', revision: 'b' });
    assert.deepEqual([p.files[0]!.action, p.files[0]!.reason, p.uncompared], ['no-op', 'not compared: parameter versions unavailable', ['/srv/gateway.env']]);
  });

  test('an env file edited on the host, a missing parameter, and a release that did not read them on the host are changes', () => {
    const edited = plan(facts({ [`${PREFIX}/GROQ_API_KEY`]: 3 }, 'hmac:other'), { GROQ_API_KEY: 3 });
    assert.deepEqual([edited.action, edited.reason, edited.cause], ['update', 'content differs', 'changed-on-host']);
    assert.equal(plan(facts({ [`${PREFIX}/GROQ_API_KEY`]: 3 }), {}).reason, `parameter ${PREFIX}/GROQ_API_KEY not found`);
    assert.equal(plan(facts(undefined), { GROQ_API_KEY: 1 }).reason, 'its secrets are to be read on the host from Parameter Store');
  });
});
