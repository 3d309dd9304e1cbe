/**
 * The Supabase adapter over real HTTP against a stand-in of the Management API: the deploy
 * request checked part by part, functions read back, secrets set and listed as digests, every
 * failure translated into a SupabaseError, and no canary secret value or token in anything the
 * adapter returns or throws.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { bridgeSecrets, changedOutside, deployRecord, planBridgeDeploy, secretDigest, SOURCE_DIGEST_SECRET } from '../../src/supabase/bridge-deploy.js';
import { readFunctionFiles } from '../../src/supabase/function-source.js';
import { ManagementApiSupabase } from '../../src/supabase/management-api.js';
import { SupabaseError, type FunctionFile } from '../../src/supabase/port.js';
import { BRIDGE_DIR } from '../support/bridge-process.js';
import { freePort } from '../support/live-gateway.js';
import { repoConfig } from '../support/repo.js';
import { startSupabaseStandin, type SupabaseStandin } from '../support/supabase-standin.js';

const REF = 'qsyncscriptbridgeprd';
const TOKEN = `sbp_${randomBytes(20).toString('hex')}`;
const CANARY = `canary-secret-${randomBytes(12).toString('hex')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let api: SupabaseStandin;
let supabase: ManagementApiSupabase;
let files: FunctionFile[];
/** Everything the adapter handed back: results and errors, for the leak check. */
const seen: unknown[] = [];

async function expectError(p: Promise<unknown>): Promise<SupabaseError> {
  try {
    seen.push(await p);
  } catch (err) {
    seen.push(err);
    assert.ok(err instanceof SupabaseError, `expected a SupabaseError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('Supabase Management API adapter', () => {
  before(async () => {
    api = await startSupabaseStandin({ accessToken: TOKEN, projectRef: REF });
    supabase = new ManagementApiSupabase({ accessToken: TOKEN, baseUrl: api.url });
    files = await readFunctionFiles(BRIDGE_DIR);
  });
  after(() => api.close());

  test('deployFunction uploads the bridge as multipart: one metadata part, one file part per source file', async () => {
    assert.deepEqual(files.map((f) => f.name), ['auth.ts', 'device.ts', 'events.ts', 'gateway-url.ts', 'gateway.ts', 'handler.ts', 'http.ts', 'index.ts', 'limits.ts', 'protocol.ts', 'reconnect.ts', 'settings.ts', 'sse.ts', 'stream.ts']);
    const r = await supabase.deployFunction({ projectRef: REF, slug: 'openclaw-bridge', files, entrypoint: 'index.ts', verifyJwt: false });
    seen.push(r);
    assert.equal(r.version, 1);
    assert.equal(r.slug, 'openclaw-bridge');
    assert.equal(r.status, 'ACTIVE');
    assert.equal(r.bundleHash, api.functions.get('openclaw-bridge')!.ezbr_sha256);

    const d = api.deploys.at(-1)!;
    assert.equal(d.slug, 'openclaw-bridge', 'the slug travels as ?slug=');
    assert.match(d.contentType, /^multipart\/form-data; boundary=/);
    const [meta, ...rest] = d.parts;
    assert.equal(meta!.name, 'metadata');
    assert.equal(meta!.filename, undefined, 'metadata is a field, not a file');
    assert.deepEqual(d.metadata, { entrypoint_path: 'index.ts', name: 'openclaw-bridge', verify_jwt: false });
    assert.equal(rest.length, files.length);
    for (const [i, part] of rest.entries()) {
      const f = files[i]!;
      assert.equal(part.name, 'file');
      assert.equal(part.filename, f.name);
      assert.equal(part.contentType, 'application/typescript');
      assert.equal(part.body.toString('utf8'), f.content, `${f.name} arrives byte for byte`);
    }

    const again = await supabase.deployFunction({ projectRef: REF, slug: 'openclaw-bridge', files, entrypoint: 'index.ts', verifyJwt: false, name: 'OpenClaw bridge' });
    assert.equal(again.version, 2);
    assert.equal(api.deploys.at(-1)!.metadata.name, 'OpenClaw bridge');
  });

  test('deployFunction refuses an entrypoint that is not among the files, before any request', async () => {
    const count = api.requests.length;
    const err = await expectError(supabase.deployFunction({ projectRef: REF, slug: 'openclaw-bridge', files, entrypoint: 'main.ts', verifyJwt: false }));
    assert.equal(err.status, 0);
    assert.match(err.message, /main\.ts is not among the files/);
    assert.equal(api.requests.length, count);
  });

  test('getFunction reads the deployed function; an unknown one is null', async () => {
    const fn = await supabase.getFunction(REF, 'openclaw-bridge');
    seen.push(fn);
    assert.ok(fn);
    assert.equal(fn.version, 2);
    assert.equal(fn.verifyJwt, false);
    assert.equal(fn.entrypointPath, 'index.ts');
    assert.equal(typeof fn.updatedAt, 'number');
    assert.ok(fn.updatedAt >= fn.createdAt);
    assert.equal(await supabase.getFunction(REF, 'no-such-function'), null);
  });

  test('setSecrets stores values; listSecrets gives names and digests, never values', async () => {
    await supabase.setSecrets(REF, { OPENCLAW_GATEWAY_TOKEN: CANARY, OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '140' });
    assert.equal(api.secrets.get('OPENCLAW_GATEWAY_TOKEN'), CANARY);
    const listed = await supabase.listSecrets(REF);
    seen.push(listed);
    assert.deepEqual(
      listed.sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: 'OPENCLAW_BRIDGE_TIMEOUT_SECONDS', digest: sha256('140') },
        { name: 'OPENCLAW_GATEWAY_TOKEN', digest: sha256(CANARY) },
      ],
    );
    assert.equal(secretDigest(CANARY), sha256(CANARY));
    const count = api.requests.length;
    await supabase.setSecrets(REF, {});
    assert.equal(api.requests.length, count, 'nothing to set: no request');
  });

  test('deleteSecrets removes the named secrets, and an unknown name is no error', async () => {
    await supabase.setSecrets(REF, { OPENCLAW_GATEWAY_TOKEN_NEXT: `${CANARY}-next` });
    assert.ok((await supabase.listSecrets(REF)).some((s) => s.name === 'OPENCLAW_GATEWAY_TOKEN_NEXT'));
    await supabase.deleteSecrets(REF, ['OPENCLAW_GATEWAY_TOKEN_NEXT', 'OPENCLAW_NEVER_SET']);
    assert.deepEqual((await supabase.listSecrets(REF)).map((s) => s.name).sort(), ['OPENCLAW_BRIDGE_TIMEOUT_SECONDS', 'OPENCLAW_GATEWAY_TOKEN']);
    const count = api.requests.length;
    await supabase.deleteSecrets(REF, []);
    assert.equal(api.requests.length, count, 'nothing to remove: no request');
  });

  test('a new gateway token is a rotation: the plan says so, and removes the next token once the rotation is over or left unfinished', () => {
    const listed = (token: string, next?: string) => [
      { name: 'OPENCLAW_GATEWAY_TOKEN', digest: sha256(token) },
      ...(next ? [{ name: 'OPENCLAW_GATEWAY_TOKEN_NEXT', digest: sha256(next) }] : []),
    ];
    const plan = (token: string, held: ReturnType<typeof listed>) =>
      planBridgeDeploy({ files, secrets: { OPENCLAW_GATEWAY_TOKEN: token }, listed: held, existing: null, verifyJwt: false, entrypoint: 'index.ts' });
    const rotating = plan(`${CANARY}-new`, listed(CANARY));
    assert.deepEqual([rotating.rotation, rotating.secrets, rotating.remove], [true, ['OPENCLAW_GATEWAY_TOKEN'], []]);
    assert.ok(rotating.reasons.includes('the gateway token is rotated: the function holds both tokens while the gateway restarts'), rotating.reasons.join('; '));
    // During the apply: the function holds both; its plan after the host makes the new one current and removes the next.
    const finishing = plan(`${CANARY}-new`, listed(CANARY, `${CANARY}-new`));
    assert.deepEqual([finishing.rotation, finishing.secrets, finishing.remove], [true, ['OPENCLAW_GATEWAY_TOKEN'], ['OPENCLAW_GATEWAY_TOKEN_NEXT']]);
    // An apply that stopped half way (the host rolled back): the next apply removes what it left.
    const left = plan(CANARY, listed(CANARY, `${CANARY}-new`));
    assert.deepEqual([left.rotation, left.secrets, left.remove], [false, [], ['OPENCLAW_GATEWAY_TOKEN_NEXT']]);
    assert.ok(left.reasons.includes('secret OPENCLAW_GATEWAY_TOKEN_NEXT is left from an unfinished rotation'));
    // A first deploy holds no token yet: nothing to rotate.
    assert.equal(plan(CANARY, []).rotation, false);
  });

  test('errors become SupabaseErrors with status, method, path and cause, and never carry the token or a secret', async () => {
    const wrong = new ManagementApiSupabase({ accessToken: 'sbp_wrong-token-value', baseUrl: api.url });
    let err = await expectError(wrong.listSecrets(REF));
    assert.equal(err.status, 401);
    assert.equal(err.method, 'GET');
    assert.equal(err.path, `/v1/projects/${REF}/secrets`);
    assert.equal(err.cause?.message, 'Unauthorized');
    assert.equal(err.message, `Supabase Management API: GET /v1/projects/${REF}/secrets: 401 Unauthorized`);

    // A server that repeats what it was sent must not get a secret into the message.
    api.failNext('POST', `/v1/projects/${REF}/secrets`, 500, { message: `could not store ${CANARY} (token ${TOKEN})` });
    err = await expectError(supabase.setSecrets(REF, { OPENCLAW_GATEWAY_TOKEN: CANARY }));
    assert.equal(err.status, 500);
    assert.equal(err.method, 'POST');
    assert.equal(err.message, `Supabase Management API: POST /v1/projects/${REF}/secrets: 500 could not store *** (token ***)`);

    err = await expectError(supabase.setSecrets(REF, { SUPABASE_URL: 'https://example.invalid' }));
    assert.equal(err.status, 400);
    assert.match(err.message, /cannot start with SUPABASE_/);

    api.failNext('POST', `/v1/projects/${REF}/functions/deploy`, 400, { message: 'Entrypoint path does not exist' });
    err = await expectError(supabase.deployFunction({ projectRef: REF, slug: 'openclaw-bridge', files, entrypoint: 'index.ts', verifyJwt: false }));
    assert.equal(err.status, 400);
    assert.equal(err.path, `/v1/projects/${REF}/functions/deploy`, 'the path has no query');

    err = await expectError(supabase.deployFunction({ projectRef: 'abcdefghijklmnopqrst', slug: 'openclaw-bridge', files, entrypoint: 'index.ts', verifyJwt: false }));
    assert.equal(err.status, 404);
    assert.equal(err.message, 'Supabase Management API: POST /v1/projects/abcdefghijklmnopqrst/functions/deploy: 404 Project not found');

    const closed = new ManagementApiSupabase({ accessToken: TOKEN, baseUrl: `http://127.0.0.1:${await freePort()}` });
    err = await expectError(closed.listSecrets(REF));
    assert.equal(err.status, 0);
    assert.equal(err.cause?.message, 'ECONNREFUSED');

    const silent = http.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const slow = new ManagementApiSupabase({ accessToken: TOKEN, baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 300 });
      err = await expectError(slow.getFunction(REF, 'openclaw-bridge'));
      assert.equal(err.status, 0);
      assert.match(err.message, /no answer within 0\.3 s/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('the bridge deploy plan: everything at first, nothing when unchanged, only what changed', async () => {
    const config = await repoConfig();
    const values: Record<string, string> = { OPENCLAW_GATEWAY_TOKEN: CANARY, OPENCLAW_BRIDGE_DEVICE_KEY: `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n` };
    const wanted = bridgeSecrets(config, (n) => values[n]);
    assert.deepEqual(wanted.problems, []);
    assert.deepEqual(Object.keys(wanted.values).sort(), [
      'OPENCLAW_BRIDGE_AGENT_ID',
      'OPENCLAW_BRIDGE_CORS_ORIGINS',
      'OPENCLAW_BRIDGE_DEVICE_KEY',
      'OPENCLAW_BRIDGE_TIMEOUT_SECONDS',
      'OPENCLAW_GATEWAY_TOKEN',
      'OPENCLAW_GATEWAY_URL',
    ]);
    // The fronted environment's gateway.publicUrl (data from config; never connected to here).
    // (ec2 writes no publicUrl: with the TLS hop it is https://<gateway.tls.domain>.)
    assert.equal(wanted.values.OPENCLAW_GATEWAY_URL, 'https://openclaw.example.com');
    assert.equal(wanted.values.OPENCLAW_BRIDGE_ALLOW_PLAINTEXT, undefined, 'only a test environment allows plaintext');
    assert.equal(wanted.values.OPENCLAW_BRIDGE_TIMEOUT_SECONDS, '140');
    // The agent web users talk to, as config/supabase.yaml names it (the bridge's own default otherwise).
    assert.equal(wanted.values.OPENCLAW_BRIDGE_AGENT_ID, 'main');
    assert.deepEqual(bridgeSecrets(config, () => undefined).problems, ['OPENCLAW_GATEWAY_TOKEN has no value', 'OPENCLAW_BRIDGE_DEVICE_KEY has no value']);

    const project = 'abcdefghijklmnopqrst';
    const fresh = await startSupabaseStandin({ accessToken: TOKEN, projectRef: project });
    try {
      const sb = new ManagementApiSupabase({ accessToken: TOKEN, baseUrl: fresh.url });
      const plan = async (f: FunctionFile[], v: Record<string, string>) =>
        planBridgeDeploy({ files: f, secrets: v, listed: await sb.listSecrets(project), existing: await sb.getFunction(project, 'openclaw-bridge'), verifyJwt: false, entrypoint: 'index.ts' });
      const apply = async (f: FunctionFile[], v: Record<string, string>) => {
        const p = await plan(f, v);
        await sb.setSecrets(project, Object.fromEntries(p.secrets.map((n) => [n, v[n]!])));
        if (p.deploy) {
          await sb.deployFunction({ projectRef: project, slug: 'openclaw-bridge', files: f, entrypoint: 'index.ts', verifyJwt: false });
          await sb.setSecrets(project, { ...deployRecord((await sb.getFunction(project, 'openclaw-bridge'))!), [SOURCE_DIGEST_SECRET]: p.sourceDigest });
        }
        return p;
      };
      assert.equal((await plan(files, wanted.values)).reasons[0], 'the function is not deployed');
      // Deployed before any record was kept (by hand, or an earlier clawops): deployed once, to make one.
      await sb.deployFunction({ projectRef: project, slug: 'openclaw-bridge', files, entrypoint: 'index.ts', verifyJwt: false });
      assert.deepEqual((await plan(files, wanted.values)).reasons[0], 'clawops has no record of deploying it');
      const first = await apply(files, wanted.values);
      assert.equal(first.deploy, true);
      assert.deepEqual(first.secrets, Object.keys(wanted.values).sort());
      assert.deepEqual(first.reasons[0], 'clawops has no record of deploying it');
      assert.equal((await plan(files, wanted.values)).deploy, false, 'recorded now');

      const second = await plan(files, wanted.values);
      assert.deepEqual({ deploy: second.deploy, secrets: second.secrets, reasons: second.reasons }, { deploy: false, secrets: [], reasons: [] });

      const edited = files.map((f) => (f.name === 'http.ts' ? { ...f, content: `${f.content}\n// edited\n` } : f));
      const third = await apply(edited, { ...wanted.values, OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '120' });
      assert.equal(third.deploy, true);
      assert.deepEqual(third.secrets, ['OPENCLAW_BRIDGE_TIMEOUT_SECONDS']);
      assert.deepEqual(third.reasons, ['the function\'s source changed', 'secret OPENCLAW_BRIDGE_TIMEOUT_SECONDS changed']);
      assert.equal(fresh.functions.get('openclaw-bridge')!.version, 3);
      assert.equal((await plan(edited, { ...wanted.values, OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '120' })).deploy, false);

      // Behind clawops's back: a redeploy as the Supabase CLI makes one (its paths, verify_jwt on by
      // default), another, then the dashboard's toggle back off.
      const v = { ...wanted.values, OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '120' };
      const cliFiles = edited.map((f) => ({ ...f, name: `supabase/functions/openclaw-bridge/${f.name}` }));
      await sb.deployFunction({ projectRef: project, slug: 'openclaw-bridge', files: cliFiles, entrypoint: 'supabase/functions/openclaw-bridge/index.ts', verifyJwt: true });
      await sb.deployFunction({ projectRef: project, slug: 'openclaw-bridge', files: cliFiles, entrypoint: 'supabase/functions/openclaw-bridge/index.ts', verifyJwt: true });
      const fn = (await sb.getFunction(project, 'openclaw-bridge'))!;
      const outside = changedOutside(fn, await sb.listSecrets(project), ['index.ts'])!;
      assert.deepEqual(outside.slice(0, 3), ['version 3 → 5', 'verify_jwt false → true', 'entrypoint_path index.ts → supabase/functions/openclaw-bridge/index.ts']);
      assert.match(outside[3]!, /^ezbr_sha256 changed \(now [0-9a-f]{12}…\)$/);
      assert.equal(outside.length, 4, 'the status did not change');
      const fourth = await plan(edited, v);
      assert.equal(fourth.deploy, true);
      assert.deepEqual(fourth.outside, outside);
      assert.equal(fourth.reasons[0], `changed outside clawops: ${outside.join(', ')}`);
      // Reconfigured in place (no new version): verify_jwt alone is noticed.
      await apply(edited, v);
      assert.deepEqual(changedOutside((await sb.getFunction(project, 'openclaw-bridge'))!, await sb.listSecrets(project)), []);
      const patched = await fetch(`${fresh.url}/v1/projects/${project}/functions/openclaw-bridge`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ verify_jwt: true }),
      });
      assert.equal(patched.status, 200);
      const fifth = await plan(edited, v);
      assert.deepEqual(fifth.outside, ['verify_jwt false → true']);
      assert.equal(fifth.deploy, true);
      seen.push(first, second, third, fourth, fifth);
    } finally {
      await fresh.close();
    }
  });

  test('no canary secret value or token appears in anything the adapter returned or threw', () => {
    assert.ok(seen.length > 10);
    for (const item of seen) {
      const text = item instanceof Error ? `${item.message}\n${item.stack}\n${JSON.stringify(item)}\n${JSON.stringify(item.cause)}` : JSON.stringify(item);
      assert.ok(!text.includes(CANARY), `a secret value leaked: ${text.slice(0, 200)}`);
      assert.ok(!text.includes(TOKEN), 'the access token leaked');
    }
  });
});
