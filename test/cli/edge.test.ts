/**
 * clawops apply redeploys the edge function only when its source or settings changed, through
 * the real Management API adapter against a stand-in of the API on loopback; plan shows it like
 * any other part. The environment here is a local one, so no host is needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
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
  await cp(join(REPO_ROOT, 'bridge'), join(root, 'bridge'), { recursive: true });
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

    const entry = join(root, 'bridge/openclaw-bridge/index.ts');
    await writeFile(entry, `${await readFile(entry, 'utf8')}\n// a change\n`);
    const plan = await run(['plan', '--env', 'edge']);
    assert.match(plan.stdout, /deploy openclaw-bridge .*— the function's source changed/);
    const redeploy = await run(['apply', '--env', 'edge']);
    assert.equal(redeploy.code, 0, redeploy.stderr);
    assert.equal(api.deploys.length, 2);
  });

  test('without the access token the function is not compared, and says so', async () => {
    const r = await clawops(['plan', '--env', 'edge', '--root', root], {
      env: { ...SECRETS, SUPABASE_ACCESS_TOKEN: '', SUPABASE_API_URL: api.url, OPENCLAW_STATE_DIR: state },
    });
    assert.match(r.stdout, /\? not compared: openclaw-bridge .*— SUPABASE_ACCESS_TOKEN has no value here/);
  });

  test('no secret value and no access token appears in any output', () => {
    for (const r of runs) {
      for (const value of Object.values(SECRETS)) {
        assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), 'a secret value leaked into output');
      }
    }
  });
});
