import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { manifestOf } from '../../src/render/manifest.js';
import { GATEWAY_UNIT, render, RenderError, stableJson } from '../../src/render/render.js';
import { FIXED_CONTEXT, REPO_ROOT, repoConfig } from '../support/repo.js';

const config = await repoConfig();
const golden = (env: string, name: string) => readFile(`${REPO_ROOT}test/golden/${env}/${name}`, 'utf8');

describe('golden renders (update with npm run golden, then review the diff)', () => {
  for (const env of ['local', 'ec2']) {
    test(`${env} matches test/golden/${env}`, async () => {
      const state = render(config, env, FIXED_CONTEXT);
      for (const f of state.files) assert.equal(f.content, await golden(env, f.name), `${env}/${f.name} differs from its golden file`);
      assert.equal(stableJson(manifestOf(state)), await golden(env, 'manifest.json'));
    });
  }
});

describe('render', () => {
  test('is deterministic: the same input gives byte-identical output', () => {
    const a = render(config, 'ec2', FIXED_CONTEXT);
    const b = render(structuredClone(config), 'ec2', structuredClone(FIXED_CONTEXT));
    assert.deepEqual(a, b);
  });

  test("each service's health gate waits as long as the environment allows, 180 s unless it says", () => {
    assert.equal(render(config, 'ec2', FIXED_CONTEXT).host.gateSeconds, 180);
    const patient = structuredClone(config);
    patient.environments.find((e) => e.name === 'ec2')!.gates = { timeoutSeconds: 600 };
    assert.equal(render(patient, 'ec2', FIXED_CONTEXT).host.gateSeconds, 600);
  });

  test('an unknown environment names the ones there are', () => {
    assert.throws(() => render(config, 'staging', FIXED_CONTEXT), new RenderError('unknown environment "staging" (expected one of: ec2, local)'));
  });

  test('the chain becomes primary and fallbacks, in order', () => {
    const oc = JSON.parse(render(config, 'ec2', FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content);
    assert.equal(oc.agents.defaults.model.primary, 'deepseek/deepseek-chat');
    assert.deepEqual(oc.agents.defaults.model.fallbacks, config.chain.slice(1));
    assert.equal(oc.agents.defaults.model.fallbacks.length, 10);
    assert.equal(oc.agents.ownership, 'explicit');
    assert.deepEqual(Object.keys(oc.agents.entries), ['main', 'scribe', 'sentinel']);
    assert.equal(oc.agents.list, undefined, 'the legacy agents.list is never written');
    assert.deepEqual(oc.agents.entries.main.subagents.allowAgents, ['scribe', 'sentinel']);
  });

  test('proxied providers are reached on loopback through their proxy, in every environment', () => {
    for (const env of ['local', 'ec2']) {
      const oc = JSON.parse(render(config, env, FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content);
      assert.equal(oc.models.providers.gemini.baseUrl, 'http://127.0.0.1:18790/v1');
      assert.equal(oc.models.providers.mistral.baseUrl, 'http://127.0.0.1:18791/v1');
      assert.equal(oc.models.providers.kimi.baseUrl, 'http://127.0.0.1:18792/v1');
      assert.equal(oc.models.providers.groq.baseUrl, 'https://api.groq.com/openai/v1');
      for (const p of Object.values<{ api: string }>(oc.models.providers)) assert.equal(p.api, 'openai-completions');
    }
  });

  test('gateway bind is a mode, per environment', () => {
    const bind = (env: string) => JSON.parse(render(config, env, FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content).gateway.bind;
    assert.equal(bind('local'), 'loopback');
    assert.equal(bind('ec2'), 'lan');
  });

  test('openclaw.json holds references, never values; each process gets only the secrets it uses', () => {
    const state = render(config, 'ec2', FIXED_CONTEXT);
    const oc = JSON.parse(state.files.find((f) => f.name === 'openclaw.json')!.content);
    assert.deepEqual(oc.gateway.auth.token, { source: 'env', provider: 'default', id: 'OPENCLAW_GATEWAY_TOKEN' });
    assert.deepEqual(oc.models.providers.groq.apiKey, { source: 'env', provider: 'default', id: 'GROQ_API_KEY' });
    const gatewayEnv = state.files.find((f) => f.name === 'gateway.env')!;
    assert.deepEqual(Object.keys(gatewayEnv.secrets!), ['CEREBRAS_API_KEY', 'DEEPSEEK_API_KEY', 'GROQ_API_KEY', 'OPENCLAW_GATEWAY_TOKEN', 'OPENROUTER_API_KEY']);
    assert.deepEqual(Object.keys(state.files.find((f) => f.name === 'proxies/gemini/proxy.env')!.secrets!), ['GEMINI_API_KEY']);
    for (const f of state.files.filter((x) => x.role === 'env')) {
      assert.equal(f.sensitive, true);
      assert.equal(f.mode, 0o600);
      assert.match(f.content, /^(#.*\n)?([A-Z0-9_]+=\n)+$/, `${f.name} holds names only`);
    }
  });

  test('systemd units: proxies before the gateway, secrets by EnvironmentFile, no restart loop on a bad config', () => {
    const state = render(config, 'ec2', FIXED_CONTEXT);
    const unit = state.files.find((f) => f.name === `systemd/${GATEWAY_UNIT}`)!.content;
    assert.match(unit, /^After=network-online\.target gemini-proxy\.service kimi-proxy\.service mistral-proxy\.service$/m);
    assert.match(unit, /^EnvironmentFile=\/home\/ubuntu\/\.openclaw\/gateway\.env$/m);
    assert.match(unit, /^User=ubuntu$/m);
    assert.match(unit, /^Restart=always$/m);
    assert.match(unit, /^RestartPreventExitStatus=78$/m);
    for (const f of state.files.filter((x) => x.role === 'unit')) {
      const exec = f.content.match(/^ExecStart=(.*)$/m)![1]!;
      assert.doesNotMatch(exec, /KEY|TOKEN|\$\{/, `${f.name}: no secret on the command line`);
      assert.equal(f.owner, 'root');
    }
    const gateway = state.units.find((u) => u.name === GATEWAY_UNIT)!;
    assert.deepEqual(gateway.after, ['gemini-proxy.service', 'kimi-proxy.service', 'mistral-proxy.service']);
    assert.deepEqual(gateway.reloadOn, ['/home/ubuntu/.openclaw/openclaw.json'], 'openclaw.json is hot-reloaded, not restarted');
    assert.ok(!gateway.restartOn.includes('/home/ubuntu/.openclaw/openclaw.json'));
  });

  test('a proxy restarts when its own program changes, and nothing else does', () => {
    const state = render(config, 'ec2', FIXED_CONTEXT);
    const program = '/home/ubuntu/openclaw-proxies/gemini/gemini-proxy.mjs';
    assert.deepEqual(state.units.filter((u) => u.restartOn.includes(program)).map((u) => u.name), ['gemini-proxy.service']);
    const changed = render(config, 'ec2', { ...FIXED_CONTEXT, proxyPrograms: { ...FIXED_CONTEXT.proxyPrograms, gemini: '// v2\n' } });
    const before = manifestOf(state).files;
    const after = manifestOf(changed).files;
    const moved = after.filter((f, i) => f.sha256 !== before[i]!.sha256).map((f) => f.path);
    assert.deepEqual(moved, [program]);
  });

  test('the local environment follows OPENCLAW_STATE_DIR and installs no units', () => {
    const state = render(config, 'local', { ...FIXED_CONTEXT, stateDir: '/srv/oc' });
    assert.equal(state.units.length, 0);
    assert.ok(state.files.every((f) => f.path.startsWith('/srv/oc/')), state.files.map((f) => f.path).join('\n'));
    assert.ok(state.files.some((f) => f.path === '/srv/oc/proxies/gemini/proxy.json'));
  });

  test('an environment may move a proxied upstream (the proxy follows, OpenClaw does not)', () => {
    const moved = structuredClone(config);
    moved.environments.find((e) => e.name === 'local')!.providers = { gemini: { upstream: 'http://127.0.0.1:39990/v1beta' } };
    const state = render(moved, 'local', FIXED_CONTEXT);
    const settings = JSON.parse(state.files.find((f) => f.name === 'proxies/gemini/proxy.json')!.content);
    assert.equal(settings.upstream, 'http://127.0.0.1:39990/v1beta');
    assert.equal(JSON.parse(state.files.find((f) => f.name === 'openclaw.json')!.content).models.providers.gemini.baseUrl, 'http://127.0.0.1:18790/v1');
  });
});
