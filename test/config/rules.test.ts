import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import type { FileText } from '../../src/config/source.js';
import { edit, repoFiles } from '../support/repo.js';

const files = await repoFiles();

function problems(changed: FileText[]): string[] {
  const result = loadConfig(changed);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.problems.map(formatProblem);
}

const CHAIN = 'config/fallback-chain.yaml';
const DEPLOYMENT = 'config/openclaw.json';

describe('the repository config', () => {
  test('is valid', () => {
    const result = loadConfig(files);
    assert.deepEqual(result.problems.map(formatProblem), []);
    assert.equal(result.ok, true);
  });
});

describe('fallback chain', () => {
  test('an entry naming an undeclared provider', () => {
    const out = problems(edit(files, CHAIN, (t) => t.replace('  - cerebras/llama-3.3-70b', '  - anthropic/claude-opus')));
    assert.deepEqual(out, [
      'config/fallback-chain.yaml:7:5: chain[2]: "anthropic/claude-opus" names provider "anthropic", which is not declared (expected one of: cerebras, deepseek, gemini, groq, kimi, mistral, openrouter)',
    ]);
  });

  test('an entry naming a model its provider does not declare', () => {
    const out = problems(edit(files, CHAIN, (t) => t.replace('  - gemini/gemini-2.5-flash\n', '  - gemini/gemini-3-pro\n')));
    assert.deepEqual(out, [
      'config/fallback-chain.yaml:13:5: chain[8]: "gemini/gemini-3-pro": provider gemini declares no model "gemini-3-pro" (it declares: gemini-2.5-flash, gemini-2.5-flash-lite)',
    ]);
  });

  test('a model whose id contains "/" and ":" resolves against its provider', () => {
    const out = problems(
      edit(files, CHAIN, (t) => t.replace('openrouter/openai/gpt-oss-120b:free', 'openrouter/openai/gpt-oss-120b:paid')),
    );
    assert.deepEqual(out, [
      'config/fallback-chain.yaml:12:5: chain[7]: "openrouter/openai/gpt-oss-120b:paid": provider openrouter declares no model "openai/gpt-oss-120b:paid" (it declares: meta-llama/llama-3.3-70b-instruct:free, openai/gpt-oss-120b:free, nousresearch/hermes-3-llama-3.1-405b:free)',
    ]);
  });

  test('a duplicate step', () => {
    const out = problems(edit(files, CHAIN, (t) => t.replace('  - gemini/gemini-2.5-flash-lite', '  - kimi/kimi-k2.5')));
    assert.deepEqual(out, ['config/fallback-chain.yaml:15:5: chain[10]: "kimi/kimi-k2.5" is already step 2 of the chain; each model appears once']);
  });

  test('an empty chain', () => {
    const out = problems(edit(files, CHAIN, (t) => t.replace(/chain:\n(  - .*\n)+/, 'chain: []\n')));
    assert.deepEqual(out, ['config/fallback-chain.yaml:4:8: chain: expected at least one model in the chain; found a list of 0']);
  });
});

describe('agents', () => {
  test("an agent's model must resolve", () => {
    const out = problems(edit(files, DEPLOYMENT, (t) => t.replace('"model": "cerebras/llama-3.3-70b"', '"model": "cerebras/llama-4"')));
    assert.deepEqual(out, [
      'config/openclaw.json:28:18: agents.entries.sentinel.model: "cerebras/llama-4": provider cerebras declares no model "llama-4" (it declares: llama-3.3-70b)',
    ]);
  });

  test('subagents must be declared agents, not the agent itself', () => {
    const out = problems(edit(files, DEPLOYMENT, (t) => t.replace('["scribe", "sentinel"]', '["scribe", "main", "critic"]')));
    assert.deepEqual(out, [
      'config/openclaw.json:17:50: agents.entries.main.subagents.allowAgents[1]: agent main cannot spawn itself as a subagent',
      'config/openclaw.json:17:58: agents.entries.main.subagents.allowAgents[2]: unknown agent "critic" (expected one of: main, scribe, sentinel)',
    ]);
  });

  test('the system agent must be declared', () => {
    const out = problems(edit(files, DEPLOYMENT, (t) => t.replace('"systemAgent": "main"', '"systemAgent": "boss"')));
    assert.deepEqual(out, ['config/openclaw.json:12:20: agents.systemAgent: unknown agent "boss" (expected one of: main, scribe, sentinel)']);
  });

  test("the smoke's canary agent is declared, has a model of its own, and that model is not in the chain", () => {
    const withCanary = (agent: string) => edit(files, DEPLOYMENT, (t) => t.replace('"plugins": { "enabled": false }', `"plugins": { "enabled": false },\n  "smoke": { "canaryAgent": "${agent}" }`));
    assert.deepEqual(problems(withCanary('ghost')), ['config/openclaw.json:34:29: smoke.canaryAgent: unknown agent "ghost" (expected one of: main, scribe, sentinel)']);
    assert.deepEqual(problems(withCanary('scribe')), ['config/openclaw.json:34:29: smoke.canaryAgent: agent scribe has no model of its own: a canary agent\'s model is one that always fails']);
    assert.deepEqual(problems(withCanary('sentinel')), [
      'config/openclaw.json:34:29: smoke.canaryAgent: agent sentinel\'s model cerebras/llama-3.3-70b is in the fallback chain: a canary agent\'s model is one that always fails',
    ]);
  });
});

describe('proxies and ports', () => {
  test('two proxies on one port', () => {
    const out = problems(edit(files, 'config/providers/kimi.yaml', (t) => t.replace('port: 18792', 'port: 18791')));
    // Files are read in name order, so the later file (mistral) is the one told to move.
    assert.deepEqual(out, ['config/providers/mistral.yaml:10:9: proxy.port: port 18791 is already used by the kimi proxy (config/providers/kimi.yaml)']);
  });

  test("a proxy on the gateway's port", () => {
    const out = problems(edit(files, 'config/providers/gemini.yaml', (t) => t.replace('port: 18790', 'port: 18789')));
    assert.deepEqual(out, ["config/providers/gemini.yaml:10:9: proxy.port: port 18789 is the gateway's port (config/openclaw.json gateway.port)"]);
  });

  test('a port out of range', () => {
    const out = problems(edit(files, 'config/providers/gemini.yaml', (t) => t.replace('port: 18790', 'port: 70000')));
    assert.deepEqual(out, ['config/providers/gemini.yaml:10:9: proxy.port: expected a port from 1024 to 65535; found 70000']);
  });

  test('an environment cannot point OpenClaw past a proxy', () => {
    const out = problems(
      edit(files, 'config/environments/local.yaml', (t) => `${t}providers:\n  gemini:\n    baseUrl: https://generativelanguage.googleapis.com/v1beta\n`),
    );
    assert.deepEqual(out, [
      'config/environments/local.yaml:40:5: providers.gemini.baseUrl: gemini is served through its proxy at http://127.0.0.1:18790/v1; OpenClaw never calls it directly (set upstream to change where the proxy sends requests)',
    ]);
  });

  test('an environment may move a proxied upstream', () => {
    const changed = edit(files, 'config/environments/local.yaml', (t) => `${t}providers:\n  gemini:\n    upstream: http://127.0.0.1:39990/v1beta\n`);
    assert.deepEqual(loadConfig(changed).problems, []);
  });

  test('sampling rules need a proxy to apply them', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('    maxTokens: 32768\n', '    maxTokens: 32768\n    sampling:\n      top_p: 0.95\n')));
    assert.deepEqual(out, [
      'config/providers/groq.yaml:13:5: models[0].sampling: sampling rules are applied by a compatibility proxy, and groq has none (add proxy: {kind, port})',
    ]);
  });

  test('a sampling range must not be upside down', () => {
    const out = problems(edit(files, 'config/providers/kimi.yaml', (t) => t.replace('top_p: 0.95', 'top_p: { min: 1, max: 0.5 }')));
    assert.deepEqual(out, ['config/providers/kimi.yaml:21:21: models[0].sampling.top_p.min: expected at most max (0.5); found 1']);
  });

  test('sampling takes rules for known parameters, in one of three forms', () => {
    const out = problems(
      edit(files, 'config/providers/kimi.yaml', (t) => t.replace('      n: 1\n', '      seed: 1\n').replace('presence_penalty: 0', 'presence_penalty: { fixed: 0 }')),
    );
    assert.deepEqual(out, [
      'config/providers/kimi.yaml:22:7: models[0].sampling.seed: unknown key "seed" (expected one of: temperature, top_p, n, presence_penalty, frequency_penalty)',
      'config/providers/kimi.yaml:23:25: models[0].sampling.presence_penalty: expected a number, {thinking, nonThinking} or {min, max}; found an object',
    ]);
  });

  test('a provider that speaks Gemini\'s API needs the proxy', () => {
    const out = problems(edit(files, 'config/providers/gemini.yaml', (t) => t.replace(/proxy:\n  kind: gemini\n  port: 18790\n/, '')));
    assert.deepEqual(out, [
      'config/providers/gemini.yaml:4:6: api: gemini speaks google-generative-ai; OpenClaw reaches it only through a compatibility proxy (add proxy: {kind, port})',
    ]);
  });
});

describe('secrets', () => {
  test('a provider key that is not declared (the slip the deployment guide made with OpenRouter)', () => {
    const out = problems(edit(files, 'config/secrets.yaml', (t) => t.replace(/  OPENROUTER_API_KEY:\n.*\n/, '')));
    assert.deepEqual(out, [
      'config/providers/openrouter.yaml:6:15: apiKeySecret: secret OPENROUTER_API_KEY (the openrouter API key) is not declared in config/secrets.yaml',
    ]);
  });

  test('the gateway token must be declared', () => {
    const out = problems(edit(files, 'config/secrets.yaml', (t) => t.replace(/  OPENCLAW_GATEWAY_TOKEN:\n.*\n/, '')));
    assert.deepEqual(out, [
      'config/environments/local.yaml:26:14: secrets.generate[0]: secret OPENCLAW_GATEWAY_TOKEN (a secret to generate) is not declared in config/secrets.yaml',
      'config/openclaw.json:7:28: gateway.auth.token.secret: secret OPENCLAW_GATEWAY_TOKEN (the gateway token) is not declared in config/secrets.yaml',
      "config/supabase.yaml:21:17: secrets.gatewayToken: secret OPENCLAW_GATEWAY_TOKEN (the bridge's gateway token) is not declared in config/secrets.yaml",
    ]);
  });

  test('user services are for the local machine, with a runtime to run', () => {
    const out = problems(edit(files, 'config/environments/ec2.yaml', (t) => t.replace('services: systemd', 'services: user')));
    assert.deepEqual(out, [
      "config/environments/ec2.yaml:21:11: services: user services are the operator's own, on this machine: only a local target has them",
      'config/environments/ec2.yaml:34:3: gateway.tls: the TLS hop is a Caddy system unit: it needs services: systemd',
    ]);
  });

  test('the bridge fronts an environment whose gateway it can reach', () => {
    const out = problems(edit(files, 'config/supabase.yaml', (t) => t.replace('environment: ec2', 'environment: local')));
    assert.deepEqual(out, ['config/supabase.yaml:8:14: environment: local has no gateway.publicUrl for the bridge to reach (config/environments/local.yaml)']);
  });

  test('secret names are UPPER_SNAKE', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('apiKeySecret: GROQ_API_KEY', 'apiKeySecret: groq-key')));
    assert.deepEqual(out, [
      'config/providers/groq.yaml:6:15: apiKeySecret: expected an UPPER_SNAKE secret name, such as GROQ_API_KEY; found "groq-key"',
    ]);
  });

  test('every provider has its key', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('apiKeySecret: GROQ_API_KEY\n', '')));
    assert.deepEqual(out, ['config/providers/groq.yaml:2:1: apiKeySecret: missing required key (expected string)']);
  });
});

describe('schema problems', () => {
  test('an unknown key names the keys that are allowed', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('tier: free', 'tier: free\ncolour: blue')));
    assert.deepEqual(out, [
      'config/providers/groq.yaml:8:1: colour: unknown key "colour" (expected one of: id, name, api, baseUrl, apiKeySecret, tier, proxy, models)',
    ]);
  });

  test('a wrong type says what was found', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('contextWindow: 131072', 'contextWindow: lots')));
    assert.deepEqual(out, ['config/providers/groq.yaml:11:20: models[0].contextWindow: expected number, found "lots"']);
  });

  test('a value outside an enum lists the choices', () => {
    const out = problems(edit(files, 'config/environments/local.yaml', (t) => t.replace('bind: loopback', 'bind: 127.0.0.1')));
    assert.deepEqual(out, ['config/environments/local.yaml:18:9: gateway.bind: expected one of "loopback", "lan"; found "127.0.0.1"']);
  });

  test('a file whose id does not match its name', () => {
    const out = problems(edit(files, 'config/providers/groq.yaml', (t) => t.replace('id: groq', 'id: groqcloud')));
    assert.ok(out.includes('config/providers/groq.yaml:2:5: id: provider id "groqcloud" must match its file name "groq"'), out.join('\n'));
  });

  test('a YAML syntax error is placed, and the rest of the config is still checked', () => {
    const changed = edit(
      edit(files, 'config/providers/deepseek.yaml', (t) => t.replace('tier: paid', 'tier: [paid')),
      CHAIN,
      (t) => t.replace('  - cerebras/llama-3.3-70b', '  - cerebras/llama-9'),
    );
    const out = problems(changed);
    assert.equal(out.length, 2, out.join('\n'));
    assert.match(out[0]!, /^config\/fallback-chain\.yaml:7:5: chain\[2\]: "cerebras\/llama-9": provider cerebras declares no model/);
    assert.match(out[1]!, /^config\/providers\/deepseek\.yaml:\d+:\d+: /);
  });

  test('a file that is not part of the config layout', () => {
    const out = problems([...files, { file: 'config/provider/x.yaml', text: 'id: x\n' }]);
    assert.match(out[0]!, /^config\/provider\/x\.yaml:1:1: not a known config file/);
  });

  test('a missing file', () => {
    const out = problems(files.filter((f) => f.file !== CHAIN));
    assert.deepEqual(out, ['config/fallback-chain.yaml:1:1: missing file']);
  });

  test('every problem is reported at once, across files, in file order', () => {
    const changed = edit(
      edit(edit(files, 'config/secrets.yaml', (t) => t.replace(/  OPENROUTER_API_KEY:\n.*\n/, '')), CHAIN, (t) =>
        t.replace('  - kimi/kimi-k2.5', '  - kimi/kimi-k3'),
      ),
      'config/providers/kimi.yaml',
      (t) => t.replace('port: 18792', 'port: 18790'),
    );
    const out = problems(changed);
    assert.deepEqual(
      out.map((l) => l.split(':')[0]),
      ['config/fallback-chain.yaml', 'config/providers/kimi.yaml', 'config/providers/openrouter.yaml'],
    );
  });
});

describe('a gateway reachable from the network, and the audit warnings an environment accepts', () => {
  const EC2 = 'config/environments/ec2.yaml';
  const LOCAL = 'config/environments/local.yaml';

  test('a non-loopback gateway with its Control UI on and no allowed origins', () => {
    const out = problems(edit(files, EC2, (t) => t.replace('  controlUi:\n    enabled: false\n', '')));
    assert.deepEqual(out, [
      'config/environments/ec2.yaml:33:9: gateway.bind: a gateway behind the TLS hop serves its Control UI to the network: set gateway.controlUi.allowedOrigins (the browser origins allowed to open it) or gateway.controlUi.enabled: false',
    ]);
  });

  test('explicit allowed origins are enough for the Control UI', () => {
    const result = loadConfig(edit(files, EC2, (t) => t.replace('    enabled: false\n', '    allowedOrigins:\n      - https://control.example.com\n')));
    assert.deepEqual(result.problems.map(formatProblem), []);
  });

  test('a non-loopback gateway without an auth rate limit', () => {
    const out = problems(edit(files, EC2, (t) => t.replace(/  auth:\n(    .*\n|      .*\n)+/, '')));
    assert.deepEqual(out, [
      'config/environments/ec2.yaml:33:9: gateway.bind: a gateway behind the TLS hop needs gateway.auth.rateLimit: failed token guesses from the network are otherwise not throttled',
    ]);
  });

  test('a loopback gateway needs neither', () => {
    const result = loadConfig(files);
    assert.equal(result.ok && result.config.environments.find((e) => e.name === 'local')!.gateway.controlUi, undefined);
  });

  test('an acceptance without a reason, and one with an empty reason', () => {
    const missing = problems(edit(files, LOCAL, (t) => t.replace(/    - check: models.weak_tier\n      reason: >-\n(        .*\n)+/, '    - check: models.weak_tier\n')));
    assert.deepEqual(missing, ['config/environments/local.yaml:34:7: security.accept[1].reason: missing required key (expected string)']);
    const empty = problems(edit(files, LOCAL, (t) => t.replace(/    - check: models.weak_tier\n      reason: >-\n(        .*\n)+/, '    - check: models.weak_tier\n      reason: "  "\n')));
    assert.deepEqual(empty, ['config/environments/local.yaml:35:15: security.accept[1].reason: expected a reason: why this warning is accepted here; found "  "']);
  });

  test('the same check accepted twice', () => {
    const out = problems(edit(files, LOCAL, (t) => t.replace('    - check: models.weak_tier', '    - check: gateway.trusted_proxies_missing')));
    assert.deepEqual(out, ['config/environments/local.yaml:34:14: security.accept[1].check: gateway.trusted_proxies_missing is already accepted (security.accept[0]); accept each check once']);
  });

  test('an agent web users reach through the bridge, or as its subagent, cannot keep operator access', () => {
    const direct = problems(edit(files, DEPLOYMENT, (t) => t.replace('"subagents": { "allowAgents": ["scribe", "sentinel"] },\n        "access": "public"', '"subagents": { "allowAgents": ["scribe", "sentinel"] },\n        "access": "operator"')));
    assert.deepEqual(direct, ['config/openclaw.json:18:19: agents.entries.main.access: agent main cannot have operator access: web users talk to it through the bridge (config/supabase.yaml agent); use "public"']);
    const sub = problems(edit(files, DEPLOYMENT, (t) => t.replace('long-form text",\n        "access": "public"', 'long-form text",\n        "access": "operator"')));
    assert.deepEqual(sub, ['config/openclaw.json:23:19: agents.entries.scribe.access: agent scribe cannot have operator access: web users reach it as a subagent of main; use "public"']);
  });

  test('the bridge names an agent that does not exist', () => {
    const out = problems(edit(files, 'config/supabase.yaml', (t) => t.replace('agent: main', 'agent: concierge')));
    assert.deepEqual(out, ['config/supabase.yaml:11:8: agent: unknown agent "concierge" (expected one of: main, scribe, sentinel; config/openclaw.json)']);
  });
});

describe('the security group', () => {
  const EC2 = 'config/environments/ec2.yaml';
  /** The ec2 environment with one more inbound rule, as securityGroup.ingress[2] (line 71). */
  const withRule = (port: string, cidr: string, description = 'added for a test') =>
    edit(files, EC2, (t) => `${t}    - protocol: tcp\n      port: ${port}\n      cidr: ${cidr}\n      description: ${description}\n`);

  test('SSH open to the world, over IPv4 or IPv6, or inside a range', () => {
    assert.deepEqual(problems(withRule('22', '0.0.0.0/0')), [
      "config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: port 22 (SSH) cannot be open to 0.0.0.0/0: allow the operator's own address (a /32), or close it and use Session Manager",
    ]);
    assert.deepEqual(problems(withRule('"20-30"', '::/0')), [
      "config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: port 22 (SSH) cannot be open to ::/0: allow the operator's own address (a /32), or close it and use Session Manager",
    ]);
  });

  test("SSH from the operator's own address is allowed", () => {
    assert.equal(loadConfig(withRule('22', '203.0.113.7/32', 'SSH from the operator')).ok, true);
  });

  test('no rule may reach a proxy, whatever its source', () => {
    assert.deepEqual(problems(withRule('18790', '10.0.0.0/8')), [
      "config/environments/ec2.yaml:81:13: securityGroup.ingress[2].port: port 18790 is the gemini proxy's, which serves this machine only (loopback); no rule may open it",
    ]);
    assert.deepEqual(problems(withRule('"18791-18792"', '203.0.113.7/32')), [
      "config/environments/ec2.yaml:81:13: securityGroup.ingress[2].port: port 18791 is the mistral proxy's, which serves this machine only (loopback); no rule may open it",
      "config/environments/ec2.yaml:81:13: securityGroup.ingress[2].port: port 18792 is the kimi proxy's, which serves this machine only (loopback); no rule may open it",
    ]);
  });

  test("the gateway's port open to the world; from the edge function's addresses it is allowed", () => {
    assert.deepEqual(problems(withRule('18789', '0.0.0.0/0')), [
      "config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: port 18789 is the gateway's (config/openclaw.json gateway.port) and cannot be open to 0.0.0.0/0: allow only the addresses that reach it (the edge function's)",
    ]);
    assert.equal(loadConfig(withRule('18789', '198.51.100.0/24', 'the edge function')).ok, true);
  });

  test('port 80 only for an ACME HTTP-01 challenge, and saying so', () => {
    assert.deepEqual(problems(withRule('80', '0.0.0.0/0', 'plain web')), [
      'config/environments/ec2.yaml:83:20: securityGroup.ingress[2].description: port 80 is opened only for an ACME HTTP-01 challenge (the TLS certificate): say so in the description, such as "ACME HTTP-01 challenge"',
    ]);
    assert.equal(loadConfig(withRule('80', '0.0.0.0/0', 'ACME HTTP-01 challenge for the certificate')).ok, true);
  });

  test('a block written other than by its network address, which EC2 would store differently', () => {
    assert.deepEqual(problems(withRule('8443', '198.51.100.77/24')), [
      'config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: expected the block\'s network address, 198.51.100.0/24: EC2 stores 198.51.100.77/24 as that',
    ]);
    assert.equal(loadConfig(withRule('8443', '198.51.100.77/32')).ok, true);
  });

  test('IPv6: a block by its network address in its one spelling, and malformed blocks refused', () => {
    assert.deepEqual(problems(withRule('8443', '2001:DB8:0:0::1/32')), [
      "config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: expected the block's network address, 2001:db8::/32: EC2 stores 2001:DB8:0:0::1/32 as that",
    ]);
    // SSH to the world over IPv6 spelled another way is still the world.
    const world = problems(withRule('22', '0::/0')).join('\n');
    assert.match(world, /cidr: expected the block's network address, ::\/0/);
    assert.match(world, /cidr: port 22 \(SSH\) cannot be open to 0::\/0/);
    for (const bad of ['2001:db8:::1/64', '1:2:3:4:5:6:7:8:9/64', 'gggg::/16', '2001:db8::/129', '1::2::3/64']) {
      assert.match(problems(withRule('8443', bad)).join('\n'), /securityGroup\.ingress\[2\]\.cidr: expected an IPv4 or IPv6 CIDR block/, bad);
    }
    assert.equal(loadConfig(withRule('8443', '2001:db8:abcd::/48')).ok, true);
  });

  test('a description EC2 would refuse, a duplicate rule, a backwards range', () => {
    assert.deepEqual(problems(withRule('8443', '0.0.0.0/0', 'café <admin>')), [
      'config/environments/ec2.yaml:83:20: securityGroup.ingress[2].description: expected only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* (what EC2 accepts in a rule description); found "café <admin>"',
      // A file the schema refuses is left out, so the bridge's environment is missing too.
      'config/supabase.yaml:8:14: environment: unknown environment "ec2" (expected one of: local)',
    ]);
    assert.deepEqual(problems(withRule('443', '0.0.0.0/0')), [
      'config/environments/ec2.yaml:82:13: securityGroup.ingress[2].cidr: the same rule as securityGroup.ingress[0]; EC2 refuses a duplicate rule',
    ]);
    assert.deepEqual(problems(withRule('"9000-8000"', '0.0.0.0/0')), [
      'config/environments/ec2.yaml:81:13: securityGroup.ingress[2].port: expected a range from a lower to a higher port, at most 65535; found "9000-8000"',
    ]);
  });
});

// The ec2 environment reaches its instance through SSM, with keys pushed by Instance Connect.
const EC2 = 'config/environments/ec2.yaml';
const VIA = '  via:\n    ssm: { instanceId: i-0123456789abcdef0, region: us-east-2 }\n';
const IC = '  instanceConnect: { instanceId: i-0123456789abcdef0, region: us-east-2 }\n';

describe('the SSH target: proxyCommand', () => {
  const withProxy = (command: string) => edit(files, EC2, (t) => t.replace(VIA, `  proxyCommand: ${command}\n`));

  test('a command with %h %p %r and %% is accepted', () => {
    const result = loadConfig(withProxy('"nc -q0 %h %p # as %r, 100%%"'));
    assert.deepEqual(result.problems.map(formatProblem), []);
  });

  test('a token OpenSSH would not expand here is refused at its line', () => {
    assert.deepEqual(problems(withProxy('nc %h %d')), [
      'config/environments/ec2.yaml:19:17: target.proxyCommand: expected a command; %h, %p, %r and %% are the only tokens it may use; found "nc %h %d"',
      // The whole file is refused, so what names it cannot resolve.
      'config/supabase.yaml:8:14: environment: unknown environment "ec2" (expected one of: local)',
    ]);
  });
});

describe('the SSH target: via SSM', () => {
  const withTarget = (lines: string) => edit(files, EC2, (t) => t.replace(VIA, lines));

  test('an instance and region are accepted', () => {
    assert.deepEqual(loadConfig(files).problems.map(formatProblem), []);
    assert.match(files.find((f) => f.file === EC2)!.text, new RegExp(VIA.replace(/[{}]/g, '\\$&')));
  });

  test('an instance id that is not one is refused at its line', () => {
    const out = problems(withTarget('  via:\n    ssm: { instanceId: 198.51.100.7, region: us-east-2 }\n'));
    assert.match(out[0]!, /^config\/environments\/ec2\.yaml:20:24: target\.via\.ssm\.instanceId: expected an EC2 instance id such as i-0123456789abcdef0/);
  });

  test('via and proxyCommand together are refused: only one can carry the stream', () => {
    assert.deepEqual(problems(withTarget(`  proxyCommand: nc %h %p\n${VIA}`)), [
      'config/environments/ec2.yaml:21:5: target.via: via and proxyCommand both say how to reach the host: keep one',
    ]);
  });
});

describe('the SSH target: which key logs in', () => {
  const withSecret = (changed: FileText[]) =>
    edit(changed, 'config/secrets.yaml', (t) => t.replace('secrets:\n', 'secrets:\n  EC2_SSH_PRIVATE_KEY:\n    description: a stored key\n'));

  test('a stored key in place of instanceConnect is accepted', () => {
    const out = loadConfig(withSecret(edit(files, EC2, (t) => t.replace(IC, '  privateKeySecret: EC2_SSH_PRIVATE_KEY\n'))));
    assert.deepEqual(out.problems.map(formatProblem), []);
  });

  test('both, or neither, is refused at the target', () => {
    assert.deepEqual(problems(withSecret(edit(files, EC2, (t) => t.replace(IC, `${IC}  privateKeySecret: EC2_SSH_PRIVATE_KEY\n`)))), [
      'config/environments/ec2.yaml:5:3: target: privateKeySecret and instanceConnect both say which key logs in: keep one',
    ]);
    assert.deepEqual(problems(edit(files, EC2, (t) => t.replace(IC, ''))), [
      'config/environments/ec2.yaml:5:3: target: an SSH target needs a key: privateKeySecret (a stored key) or instanceConnect (a fresh key each run)',
    ]);
  });
});

describe('the TLS hop in front of the gateway', () => {
  const EC2 = 'config/environments/ec2.yaml';
  const tlsBlock = /  tls:\n(    .*\n|      .*\n)+/;
  /** ec2 as it was before the TLS hop: the gateway on the network, reached in plaintext. */
  const plaintext = (t: string) => t.replace('bind: loopback', 'bind: lan\n  publicUrl: http://203.0.113.10:18789').replace(tlsBlock, '');
  const asTest = (t: string) => t.replace(/^(description: .*\n)/m, '$1test: true\n');

  test('a plaintext publicUrl off loopback is refused, naming the file, line and key', () => {
    assert.deepEqual(problems(edit(files, EC2, plaintext)), [
      'config/environments/ec2.yaml:34:14: gateway.publicUrl: http://203.0.113.10:18789 is plaintext: the gateway token and the device signature would cross the network unencrypted; declare gateway.tls and use https://<domain> (or mark a test environment test: true)',
    ]);
  });

  test('a test environment may use it', () => {
    assert.deepEqual(loadConfig(edit(files, EC2, (t) => asTest(plaintext(t)))).problems.map(formatProblem), []);
  });

  test('a gateway on the network without TLS, even behind an https URL, is refused', () => {
    const out = problems(edit(files, EC2, (t) => plaintext(t).replace('http://203.0.113.10:18789', 'https://gateway.example.net')));
    assert.deepEqual(out, [
      'config/environments/ec2.yaml:33:9: gateway.bind: a gateway bound to lan without gateway.tls listens in plaintext on the network: bind it to loopback and declare gateway.tls (Caddy serves https://gateway.example.net and passes requests to it)',
    ]);
  });

  test('with TLS the gateway binds loopback, and a publicUrl written is the domain\'s', () => {
    assert.deepEqual(problems(edit(files, EC2, (t) => t.replace('bind: loopback', 'bind: lan\n  publicUrl: https://other.example.com'))), [
      'config/environments/ec2.yaml:33:9: gateway.bind: with gateway.tls, Caddy reaches the gateway on loopback: bind: loopback (bound to lan, its plaintext port would be open beside the TLS one)',
      'config/environments/ec2.yaml:34:14: gateway.publicUrl: expected https://openclaw.example.com, the TLS hop\'s address (gateway.tls.domain), or no publicUrl at all; found https://other.example.com',
    ]);
    assert.deepEqual(loadConfig(edit(files, EC2, (t) => t.replace('bind: loopback', 'bind: loopback\n  publicUrl: https://openclaw.example.com'))).problems.map(formatProblem), []);
  });

  test('Caddy\'s internal CA only in a test environment, and ACME only for a name', () => {
    const internal = (t: string) => t.replace('issuer: acme', 'issuer: internal').replace(/    acme:\n(      .*\n)+/, '');
    assert.deepEqual(problems(edit(files, EC2, internal)), [
      "config/environments/ec2.yaml:38:13: gateway.tls.issuer: issuer internal is Caddy's local CA, which no client trusts by itself: only a test environment (test: true) may use it; use acme",
    ]);
    assert.deepEqual(loadConfig(edit(files, EC2, (t) => asTest(internal(t)))).problems.map(formatProblem), []);
    assert.deepEqual(problems(edit(files, EC2, (t) => t.replace('domain: openclaw.example.com', 'domain: 203.0.113.10'))), [
      'config/environments/ec2.yaml:37:13: gateway.tls.domain: an ACME certificate is issued for a domain name, not an address (203.0.113.10): point a name\'s A/AAAA record at the server and use it',
    ]);
  });

  test('the bridge reaches a loopback gateway through the TLS hop', () => {
    const result = loadConfig(files);
    assert.deepEqual(result.problems.map(formatProblem), []);
  });
});

describe('secrets the host reads itself', () => {
  const EC2 = 'config/environments/ec2.yaml';
  const hostSsm = (extra: string) => (t: string) => t.replace('secrets:\n  source: env\n', `secrets:\n  source: host-ssm\n  region: us-east-2\n  prefix: /clawops/ec2\n${extra}`);

  test('host-ssm is a secret source', () => {
    const result = loadConfig(edit(files, EC2, hostSsm('')));
    assert.deepEqual(result.problems.map(formatProblem), []);
  });

  test('endpoints pointing the host at stand-ins of AWS are for a test environment only', () => {
    const endpoints = '  endpoints:\n    ssm: http://127.0.0.1:4566\n    metadata: http://127.0.0.1:1338\n';
    const out = problems(edit(files, EC2, hostSsm(endpoints)));
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^config\/environments\/ec2\.yaml:\d+:3: secrets\.endpoints: endpoints point the host at stand-ins of AWS, for test environments only \(test: true\); ec2 is not one$/);
    const asTest = loadConfig(edit(files, EC2, (t) => hostSsm(endpoints)(t).replace(/^(description: .*)$/m, '$1\ntest: true')));
    assert.deepEqual(asTest.problems.map(formatProblem), []);
  });
});

describe('the SSH target: a read-only facts user', () => {
  const EC2 = 'config/environments/ec2.yaml';
  const without = (t: string) => t.replace(/^(?: {2}#.*\n)* {2}factsUser: clawops-facts\n/m, '');
  const withFacts = (lines: string) => edit(files, EC2, (t) => without(t).replace('  user: ubuntu\n', `  user: ubuntu\n${lines}`));

  test('a user of its own is accepted, its key pushed by Instance Connect (as ec2 has) or stored', () => {
    assert.deepEqual(loadConfig(files).problems.map(formatProblem), []);
    assert.deepEqual(loadConfig(withFacts('  factsUser: readonly-facts\n')).problems.map(formatProblem), []);
  });

  test('the deploying user as the facts user is refused: its login would run only the facts program', () => {
    assert.deepEqual(problems(withFacts('  factsUser: ubuntu\n')), [
      'config/environments/ec2.yaml:11:14: target.factsUser: factsUser must be a user of its own, not ubuntu: its login runs only the facts program',
    ]);
  });

  test('a facts key without a facts user, or one not declared, is refused at its line', () => {
    assert.deepEqual(problems(withFacts('  factsPrivateKeySecret: OPENCLAW_GATEWAY_TOKEN\n')), [
      'config/environments/ec2.yaml:11:26: target.factsPrivateKeySecret: factsPrivateKeySecret is the key of target.factsUser, which is not set',
    ]);
    assert.deepEqual(problems(withFacts('  factsUser: clawops-facts\n  factsPrivateKeySecret: NOT_DECLARED_KEY\n')), [
      'config/environments/ec2.yaml:12:26: target.factsPrivateKeySecret: secret NOT_DECLARED_KEY (the ec2 read-only SSH key) is not declared in config/secrets.yaml',
    ]);
  });
});
