import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { manifestOf } from '../../src/render/manifest.js';
import { movePorts } from '../../src/config/ports.js';
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

// The rendered openclaw.json, read back as OpenClaw reads it.
const openclaw = (env: string, c = config): any => JSON.parse(render(c, env, FIXED_CONTEXT).files.find((f) => f.name === 'openclaw.json')!.content);

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
    // ec2's gateway is reached through the TLS hop: Caddy on the same host, the gateway on loopback.
    assert.equal(bind('ec2'), 'loopback');
  });

  test('the TLS hop: a Caddyfile for the domain passing to the gateway, a Caddy unit gated after it, Debian\'s caddy.service off', () => {
    const ec2 = render(config, 'ec2', FIXED_CONTEXT);
    const caddyfile = ec2.files.find((f) => f.role === 'tls-config')!;
    assert.equal(caddyfile.path, '/etc/caddy/clawops.Caddyfile');
    assert.equal(caddyfile.owner, 'root');
    assert.match(caddyfile.content, /^https:\/\/openclaw\.example\.com:443 \{$/m);
    assert.match(caddyfile.content, /^\treverse_proxy 127\.0\.0\.1:18789$/m);
    assert.match(caddyfile.content, /disable_http_challenge/, 'TLS-ALPN-01 only: port 80 stays closed');
    const unit = ec2.units.find((u) => u.kind === 'tls')!;
    assert.equal(unit.name, 'openclaw-tls.service');
    assert.deepEqual(unit.after, ['openclaw-gateway.service']);
    assert.equal(unit.health, 'https://openclaw.example.com:443/readyz');
    assert.deepEqual(unit.healthCurl, ['--insecure', '--resolve', 'openclaw.example.com:443:127.0.0.1']);
    assert.ok(unit.restartOn.includes(caddyfile.path));
    assert.deepEqual(ec2.host.packages, ['caddy']);
    assert.deepEqual(ec2.host.disable?.map((d) => d.unit), ['caddy.service']);
    assert.deepEqual(JSON.parse(ec2.files.find((f) => f.name === 'openclaw.json')!.content).gateway.trustedProxies, ['127.0.0.1']);
    const local = render(config, 'local', FIXED_CONTEXT);
    assert.equal(local.units.some((u) => u.kind === 'tls'), false);
    assert.equal(local.host.packages, undefined);
  });

  test('a gateway reachable from the network: Control UI off (or its origins), failed logins throttled; loopback leaves both to OpenClaw', () => {
    const ec2 = openclaw('ec2').gateway;
    assert.deepEqual(ec2.controlUi, { enabled: false });
    assert.deepEqual(ec2.auth.rateLimit, { maxAttempts: 10, windowMs: 60000, lockoutMs: 300000, exemptLoopback: true });
    const local = openclaw('local').gateway;
    assert.equal(local.controlUi, undefined);
    assert.equal(local.auth.rateLimit, undefined);
    const withOrigins = structuredClone(config);
    withOrigins.environments.find((e) => e.name === 'ec2')!.gateway.controlUi = { enabled: true, allowedOrigins: ['https://control.example.com'] };
    assert.deepEqual(openclaw('ec2', withOrigins).gateway.controlUi, { enabled: true, allowedOrigins: ['https://control.example.com'] });
  });

  test('public agents lose host exec, files, control-plane and elevated tools; operator agents keep OpenClaw\'s defaults', () => {
    const entries = openclaw('ec2').agents.entries;
    for (const id of ['main', 'scribe', 'sentinel']) {
      assert.deepEqual(entries[id].tools, {
        profile: 'messaging',
        alsoAllow: ['group:web'],
        deny: ['group:runtime', 'group:fs', 'group:automation', 'group:nodes', 'group:ui', 'sessions_send'],
        elevated: { enabled: false },
      });
    }
    const operator = structuredClone(config);
    operator.deployment.agents.entries.sentinel!.access = 'operator';
    assert.equal(openclaw('ec2', operator).agents.entries.sentinel.tools, undefined);
  });

  test('small models (300B parameters or fewer) get no web tools, whichever agent they answer for; sessions stay with their user', () => {
    const tools = openclaw('ec2').tools;
    assert.deepEqual(Object.keys(tools.byProvider), [
      'cerebras/llama-3.3-70b',
      'groq/llama-3.3-70b-versatile',
      'groq/meta-llama/llama-4-scout-17b-16e-instruct',
      'mistral/mistral-small-latest',
      'openrouter/meta-llama/llama-3.3-70b-instruct:free',
      'openrouter/openai/gpt-oss-120b:free',
    ]);
    for (const rule of Object.values(tools.byProvider)) assert.deepEqual(rule, { deny: ['group:web', 'browser'] });
    // The 405B model, and models of unpublished size, keep web tools.
    assert.ok(!('openrouter/nousresearch/hermes-3-llama-3.1-405b:free' in tools.byProvider));
    assert.deepEqual(tools.sessions, { visibility: 'tree' });
    assert.deepEqual(tools.agentToAgent, { enabled: false });
    assert.deepEqual(tools.elevated, { enabled: false });
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

  test('the local environment follows OPENCLAW_STATE_DIR; without a user service manager it installs no units but still runs them', () => {
    const state = render(config, 'local', { ...FIXED_CONTEXT, stateDir: '/srv/oc' });
    assert.equal(state.services, 'none');
    assert.ok(state.files.every((f) => f.path.startsWith('/srv/oc/')), state.files.map((f) => f.path).join('\n'));
    assert.ok(state.files.some((f) => f.path === '/srv/oc/proxies/gemini/proxy.json'));
    // What `clawops up` runs: the proxies, then the gateway, on the pinned runtime in the operator's home.
    assert.deepEqual(state.units.map((u) => u.name), ['gemini-proxy.service', 'kimi-proxy.service', 'mistral-proxy.service', 'openclaw-gateway.service']);
    const gateway = state.units.find((u) => u.kind === 'gateway')!;
    assert.deepEqual(gateway.run.exec, [
      '/home/operator/.local/share/clawops/runtime/node/24.21.0/bin/node',
      '/home/operator/.local/share/clawops/runtime/openclaw/2026.9.6/node_modules/openclaw/openclaw.mjs',
      'gateway',
      'run',
    ]);
    assert.equal(gateway.run.environment.OPENCLAW_STATE_DIR, '/srv/oc');
    assert.equal(gateway.run.environmentFile, '/srv/oc/gateway.env');
    // Installed only where something runs it: `clawops up` (foreground), not a files-only apply.
    assert.equal(state.host.runtime, undefined);
    assert.equal(render(config, 'local', { ...FIXED_CONTEXT, foreground: true }).host.runtime?.openclaw?.version, '2026.9.6');
    assert.deepEqual(state.units[0]!.run.exec.slice(1), ['/srv/oc/proxies/gemini/gemini-proxy.mjs', '--config', '/srv/oc/proxies/gemini/proxy.json']);
  });

  test('with a user service manager the local units are the operator\'s own: in ~/.config/systemd/user, no User=, started with the session', () => {
    const state = render(config, 'local', { ...FIXED_CONTEXT, userServices: true });
    assert.equal(state.services, 'user');
    const units = state.files.filter((f) => f.role === 'unit');
    assert.deepEqual(units.map((f) => f.path), [
      '/home/operator/.config/systemd/user/gemini-proxy.service',
      '/home/operator/.config/systemd/user/kimi-proxy.service',
      '/home/operator/.config/systemd/user/mistral-proxy.service',
      '/home/operator/.config/systemd/user/openclaw-gateway.service',
    ]);
    const gateway = units.find((f) => f.path.endsWith('openclaw-gateway.service'))!;
    assert.equal(gateway.owner, undefined);
    assert.doesNotMatch(gateway.content, /^User=|^PrivateTmp=|network-online/m);
    assert.match(gateway.content, /^WantedBy=default\.target$/m);
    assert.match(gateway.content, /^After=gemini-proxy\.service kimi-proxy\.service mistral-proxy\.service$/m);
    assert.match(gateway.content, /^EnvironmentFile=\/home\/operator\/\.openclaw\/gateway\.env$/m);
    // A change to a unit restarts its service, as on a systemd host.
    assert.ok(state.units.find((u) => u.kind === 'gateway')!.restartOn.includes(gateway.path));
  });

  test("the operator's own openclaw replaces the pinned one, which is then not installed", () => {
    const state = render(config, 'local', { ...FIXED_CONTEXT, foreground: true, openclaw: '/usr/local/bin/openclaw' });
    assert.deepEqual(state.units.find((u) => u.kind === 'gateway')!.run.exec, ['/usr/local/bin/openclaw', 'gateway', 'run']);
    assert.equal(state.host.runtime?.openclaw, undefined);
    assert.equal(state.host.runtime?.node.version, '24.21.0');
    // Only for this machine: a host always runs the pinned OpenClaw.
    assert.equal(render(config, 'ec2', { ...FIXED_CONTEXT, openclaw: '/usr/local/bin/openclaw' }).host.runtime?.openclaw?.version, '2026.9.6');
  });

  test('the local ports move together, so a second deployment can run beside the first', () => {
    const moved = movePorts(config, 28789);
    assert.ok(!('problem' in moved));
    const state = render(moved, 'local', FIXED_CONTEXT);
    assert.deepEqual(state.units.map((u) => [u.name, u.port, u.health]), [
      ['gemini-proxy.service', 28790, 'http://127.0.0.1:28790/healthz'],
      ['kimi-proxy.service', 28792, 'http://127.0.0.1:28792/healthz'],
      ['mistral-proxy.service', 28791, 'http://127.0.0.1:28791/healthz'],
      ['openclaw-gateway.service', 28789, 'http://127.0.0.1:28789/readyz'],
    ]);
    const oc = JSON.parse(state.files.find((f) => f.name === 'openclaw.json')!.content);
    assert.equal(oc.gateway.port, 28789);
    assert.equal(oc.models.providers.gemini.baseUrl, 'http://127.0.0.1:28790/v1');
    assert.equal(JSON.parse(state.files.find((f) => f.name === 'proxies/kimi/proxy.json')!.content).port, 28792);
    assert.deepEqual(movePorts(config, 65534), { problem: 'port 65534 puts the gateway and its proxies on 65534, 65535, 65536, 65537; each must be from 1024 to 65535' });
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
