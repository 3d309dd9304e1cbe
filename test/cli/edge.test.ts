/**
 * clawops apply redeploys the edge function only when its source or settings changed, through
 * the real Management API adapter against a stand-in of the API on loopback; plan shows it like
 * any other part. The environment here is a local one, so no host is needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SOURCE_DIGEST_SECRET } from '../../src/supabase/bridge-deploy.js';
import { clawops, scratchRepo, type Run } from '../support/cli.js';
import { REPO_ROOT } from '../support/repo.js';
import { startSupabaseStandin, type SupabaseStandin } from '../support/supabase-standin.js';

const REF = 'qsyncscriptbridgeprd';
const ACCESS = `sbp_${randomBytes(16).toString('hex')}`;
const SECRETS: Record<string, string> = {
  OPENCLAW_GATEWAY_TOKEN: `canary-gw-${randomBytes(8).toString('hex')}`,
  OPENCLAW_BRIDGE_DEVICE_KEY: `canary-dk-${randomBytes(8).toString('hex')}`,
  SUPABASE_ACCESS_TOKEN: ACCESS,
};

let api: SupabaseStandin;
let root: string;
let state: string;
const runs: Run[] = [];

async function run(args: string[]): Promise<Run> {
  const r = await clawops([...args, '--root', root], {
    env: { ...SECRETS, SUPABASE_API_URL: api.url, OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'test' },
  });
  runs.push(r);
  return r;
}

before(async () => {
  api = await startSupabaseStandin({ accessToken: ACCESS, projectRef: REF });
  root = await scratchRepo();
  state = await mkdtemp(join(tmpdir(), 'clawops-edge-state-'));
  // An environment on this machine whose gateway the bridge can reach.
  const local = await readFile(join(root, 'config/environments/local.yaml'), 'utf8');
  await writeFile(
    join(root, 'config/environments/edge.yaml'),
    local
      .replace('name: local', 'name: edge')
      .replace('bind: loopback', 'bind: lan\n  publicUrl: http://127.0.0.1:28789\n  controlUi: { enabled: false }\n  auth: { rateLimit: { maxAttempts: 10, windowMs: 60000, lockoutMs: 300000 } }')
      .replace(/secrets:\n {2}source: dotenv\n {2}path: \.env\n(.*\n)*/, 'secrets:\n  source: env\n'),
  );
  const sb = join(root, 'config/supabase.yaml');
  await writeFile(sb, (await readFile(sb, 'utf8')).replace('environment: ec2', 'environment: edge'));
  // Every other secret the environment's files need.
  for (const name of ['GROQ_API_KEY', 'GEMINI_API_KEY', 'DEEPSEEK_API_KEY', 'CEREBRAS_API_KEY', 'MISTRAL_API_KEY', 'KIMI_API_KEY', 'OPENROUTER_API_KEY']) {
    SECRETS[name] = `canary-${name.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  }
});

after(async () => {
  await api.close();
});

describe('the edge function, through clawops', () => {
  test('plan shows a first deploy, with reasons and names only', async () => {
    const r = await run(['plan', '--env', 'edge']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}~ deploy openclaw-bridge \(Supabase project qsyncscriptbridgeprd\) {2}— the function is not deployed; secret OPENCLAW_BRIDGE_AGENT_ID is new; secret OPENCLAW_BRIDGE_CORS_ORIGINS is new;/m);
    assert.match(r.stdout, /redeploys: openclaw-bridge$/m);
    assert.equal(api.deploys.length, 0, 'plan deploys nothing');
  });

  test('apply deploys it once, with its settings, and records the source digest last', async () => {
    const r = await run(['apply', '--env', 'edge']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.deploys.length, 1);
    assert.equal(api.deploys[0]!.slug, 'openclaw-bridge');
    assert.equal(api.deploys[0]!.metadata.verify_jwt, false);
    assert.equal(api.secrets.get('OPENCLAW_GATEWAY_TOKEN'), SECRETS.OPENCLAW_GATEWAY_TOKEN);
    assert.equal(api.secrets.get('OPENCLAW_GATEWAY_URL'), 'http://127.0.0.1:28789');
    assert.ok(api.secrets.has(SOURCE_DIGEST_SECRET));
    assert.match(r.stderr, /edge function openclaw-bridge: deployed version 1/);
  });

  test('a second apply deploys nothing', async () => {
    const r = await run(['apply', '--env', 'edge']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.deploys.length, 1);
    assert.match(r.stdout, /No changes: edge already matches test\. Nothing was restarted\./);
  });

  test('a changed CORS origin updates the settings without a new upload; a changed source redeploys', async () => {
    const sb = join(root, 'config/supabase.yaml');
    await writeFile(sb, (await readFile(sb, 'utf8')).replace('    - http://localhost:5173\n', ''));
    const settings = await run(['apply', '--env', 'edge']);
    assert.equal(settings.code, 0, settings.stderr);
    assert.equal(api.deploys.length, 1);
    assert.equal(api.secrets.get('OPENCLAW_BRIDGE_CORS_ORIGINS'), 'https://syncscript.app,https://quicksync.app');
    assert.equal(api.secrets.get('OPENCLAW_BRIDGE_AGENT_ID'), 'main');

    const entry = join(root, 'supabase/functions/openclaw-bridge/index.ts');
    await writeFile(entry, `${await readFile(entry, 'utf8')}\n// a change\n`);
    const plan = await run(['plan', '--env', 'edge']);
    assert.match(plan.stdout, /deploy openclaw-bridge .*— the function's source changed/);
    const redeploy = await run(['apply', '--env', 'edge']);
    assert.equal(redeploy.code, 0, redeploy.stderr);
    assert.equal(api.deploys.length, 2);
  });

  test('a function redeployed and reconfigured behind clawops: plan and drift say what changed outside it, and apply puts it back', async () => {
    assert.equal(api.deploys.length, 2);
    const before = api.functions.get('openclaw-bridge')!;
    assert.equal(before.version, 2);
    // As `supabase functions deploy openclaw-bridge` run from the repository makes one (its paths,
    // verify_jwt on), twice: the Management API's own deploy endpoint, not the stand-in's insides.
    const dir = join(root, 'supabase/functions/openclaw-bridge');
    for (let i = 0; i < 2; i++) {
      const form = new FormData();
      form.append('metadata', JSON.stringify({ entrypoint_path: 'supabase/functions/openclaw-bridge/index.ts', name: 'openclaw-bridge', verify_jwt: true }));
      for (const name of ['index.ts', 'handler.ts']) form.append('file', new Blob([await readFile(join(dir, name), 'utf8')]), `supabase/functions/openclaw-bridge/${name}`);
      const res = await fetch(`${api.url}/v1/projects/${REF}/functions/deploy?slug=openclaw-bridge`, { method: 'POST', headers: { authorization: `Bearer ${ACCESS}` }, body: form });
      assert.equal(res.status, 201);
    }
    const outside = /changed outside clawops: version 2 → 4, verify_jwt false → true, entrypoint_path index\.ts → supabase\/functions\/openclaw-bridge\/index\.ts, ezbr_sha256 changed \(now [0-9a-f]{12}…\)/;

    const plan = await run(['plan', '--env', 'edge', '--detailed-exitcode']);
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, new RegExp(`^ {2}~ deploy openclaw-bridge \\(Supabase project ${REF}\\) {2}— ${outside.source}$`, 'm'));
    assert.match(plan.stdout, /redeploys: openclaw-bridge$/m);

    const drift = await run(['drift', '--env', 'edge']);
    assert.equal(drift.code, 2, drift.stdout);
    assert.match(drift.stdout, /^ {2}! edge function openclaw-bridge: version 2 → 4, verify_jwt false → true, entrypoint_path index\.ts → \S+, ezbr_sha256 changed \(now [0-9a-f]{12}…\) — changed outside clawops$/m);
    const json = await run(['drift', '--env', 'edge', '--json']);
    const items = (JSON.parse(json.stdout) as { drift: { path: string; cause: string }[] }).drift.filter((i) => i.path.startsWith('edge function'));
    assert.deepEqual(items.map((i) => i.cause), ['changed outside clawops']);

    const apply = await run(['apply', '--env', 'edge']);
    assert.equal(apply.code, 0, apply.stderr);
    assert.equal(api.deploys.length, 5, 'apply deployed it again');
    const fn = api.functions.get('openclaw-bridge')!;
    assert.deepEqual({ version: fn.version, verify_jwt: fn.verify_jwt, entrypoint_path: fn.entrypoint_path }, { version: 5, verify_jwt: false, entrypoint_path: 'index.ts' });
    const after = await run(['drift', '--env', 'edge']);
    assert.doesNotMatch(after.stdout, /edge function/);

    // The dashboard's JWT toggle, which makes no new version, is noticed too.
    const patched = await fetch(`${api.url}/v1/projects/${REF}/functions/openclaw-bridge`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ACCESS}`, 'content-type': 'application/json' },
      body: JSON.stringify({ verify_jwt: true }),
    });
    assert.equal(patched.status, 200);
    const toggled = await run(['drift', '--env', 'edge']);
    assert.match(toggled.stdout, /^ {2}! edge function openclaw-bridge: verify_jwt false → true — changed outside clawops$/m);
    assert.equal((await run(['apply', '--env', 'edge'])).code, 0);
    assert.equal(api.functions.get('openclaw-bridge')!.verify_jwt, false);
  });

  test('without the access token the function is not compared, and says so', async () => {
    const r = await clawops(['plan', '--env', 'edge', '--root', root], {
      env: { ...SECRETS, SUPABASE_ACCESS_TOKEN: '', SUPABASE_API_URL: api.url, OPENCLAW_STATE_DIR: state },
    });
    assert.match(r.stdout, /\? not compared: openclaw-bridge .*— SUPABASE_ACCESS_TOKEN has no value here/);
    // apply says the function was left as it was, rather than finishing quietly.
    const deploys = api.deploys.length;
    const a = await clawops(['apply', '--env', 'edge', '--root', root], {
      env: { ...SECRETS, SUPABASE_ACCESS_TOKEN: '', SUPABASE_API_URL: api.url, OPENCLAW_STATE_DIR: state, CLAWOPS_REVISION: 'test' },
    });
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /^warning: the edge function openclaw-bridge was not deployed: SUPABASE_ACCESS_TOKEN has no value here$/m);
    assert.equal(api.deploys.length, deploys);
  });

  test('no secret value and no access token appears in any output', () => {
    for (const r of runs) {
      for (const value of Object.values(SECRETS)) {
        assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), 'a secret value leaked into output');
      }
    }
  });
});
