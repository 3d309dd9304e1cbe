import type { Environment } from '../schema/environment.js';
import type { Provider } from '../schema/provider.js';
import { canonicalCidr, isWorld, portRange } from '../schema/security-group.js';
import type { ConfigSources, Parsed } from './load.js';
import { isLoopbackHost, isPlaintextUrl } from '../../supabase/functions/openclaw-bridge/gateway-url.js';
import { publicGatewayUrl, tlsUrl } from './gateway-url.js';
import { resolveModel, splitModelRef } from './model.js';
import type { Problem } from './problem.js';
import { problemAt } from './source.js';

/** Proxies listen here; OpenClaw reaches a proxied provider only at this address. */
export const PROXY_HOST = '127.0.0.1';

export function proxyBaseUrl(port: number): string {
  return `http://${PROXY_HOST}:${port}/v1`;
}

const basename = (file: string) => file.replace(/^.*\//, '').replace(/\.(ya?ml|json)$/, '');

/**
 * Domain rules: what a schema cannot say because it spans files. Each rule reports at the place an
 * operator would edit.
 */
export function checkRules(s: ConfigSources): Problem[] {
  const out: Problem[] = [];
  const providers = s.providers.map((p) => p.value);

  // Providers: one per file, named for it; models unique within a provider.
  for (const { source, value: p } of s.providers) {
    const expected = basename(source.file);
    if (p.id !== expected) out.push(problemAt(source, ['id'], `provider id "${p.id}" must match its file name "${expected}"`));
    const seen = new Set<string>();
    p.models.forEach((m, i) => {
      if (seen.has(m.id)) out.push(problemAt(source, ['models', i, 'id'], `model "${m.id}" is declared twice in provider ${p.id}`));
      seen.add(m.id);
      if (m.sampling && !p.proxy) {
        out.push(problemAt(source, ['models', i, 'sampling'], `sampling rules are applied by a compatibility proxy, and ${p.id} has none (add proxy: {kind, port})`, 'key'));
      }
    });
    if (p.api !== 'openai-completions' && !p.proxy) {
      out.push(
        problemAt(source, ['api'], `${p.id} speaks ${p.api}; OpenClaw reaches it only through a compatibility proxy (add proxy: {kind, port})`),
      );
    }
    if (p.api === 'google-generative-ai' && p.proxy && p.proxy.kind !== 'gemini') {
      out.push(problemAt(source, ['proxy', 'kind'], `${p.id} speaks google-generative-ai and needs the gemini proxy, not ${p.proxy.kind}`));
    }
  }

  // Chain: resolves, no duplicates.
  if (s.chain) {
    const { source, value } = s.chain;
    const seen = new Map<string, number>();
    value.chain.forEach((ref, i) => {
      const first = seen.get(ref);
      if (first !== undefined) {
        out.push(problemAt(source, ['chain', i], `"${ref}" is already step ${first + 1} of the chain; each model appears once`));
      } else seen.set(ref, i);
      const unresolved = unresolvedModel(providers, ref, s.brokenProviders);
      if (unresolved) out.push(problemAt(source, ['chain', i], unresolved));
    });
  }

  // Agents: models resolve, subagents exist, the system agent exists.
  if (s.deployment) {
    const { source, value } = s.deployment;
    const agents = value.agents.entries;
    for (const [id, agent] of Object.entries(agents)) {
      if (agent.model) {
        const unresolved = unresolvedModel(providers, agent.model, s.brokenProviders);
        if (unresolved) out.push(problemAt(source, ['agents', 'entries', id, 'model'], unresolved));
      }
      agent.subagents?.allowAgents.forEach((sub, i) => {
        const at = ['agents', 'entries', id, 'subagents', 'allowAgents', i];
        if (sub === id) out.push(problemAt(source, at, `agent ${id} cannot spawn itself as a subagent`));
        else if (!(sub in agents))
          out.push(problemAt(source, at, `unknown agent "${sub}" (expected one of: ${Object.keys(agents).join(', ')})`));
      });
    }
    if (!(value.agents.systemAgent in agents)) {
      out.push(
        problemAt(
          source,
          ['agents', 'systemAgent'],
          `unknown agent "${value.agents.systemAgent}" (expected one of: ${Object.keys(agents).join(', ')})`,
        ),
      );
    }
    const canary = value.smoke?.canaryAgent;
    if (canary !== undefined) {
      const at = ['smoke', 'canaryAgent'];
      const model = agents[canary]?.model;
      if (!(canary in agents)) out.push(problemAt(source, at, `unknown agent "${canary}" (expected one of: ${Object.keys(agents).join(', ')})`));
      else if (!model) out.push(problemAt(source, at, `agent ${canary} has no model of its own: a canary agent's model is one that always fails`));
      else if (s.chain?.value.chain.includes(model)) out.push(problemAt(source, at, `agent ${canary}'s model ${model} is in the fallback chain: a canary agent's model is one that always fails`));
    }
  }

  out.push(...checkPorts(s));
  out.push(...checkSecrets(s));
  out.push(...checkEnvironments(s, providers));
  out.push(...checkBridge(s));
  out.push(...checkSecurityGroups(s));
  return out;
}

/** The agent web users talk to and every agent it can spawn, transitively, each with the one that spawns it. */
export function bridgeReach(agents: Record<string, { subagents?: { allowAgents: string[] } | undefined }>, entry: string): Map<string, string | null> {
  const reach = new Map<string, string | null>([[entry, null]]);
  const queue = [entry];
  while (queue.length) {
    const id = queue.shift()!;
    for (const sub of agents[id]?.subagents?.allowAgents ?? []) {
      if (!reach.has(sub) && sub in agents) {
        reach.set(sub, id);
        queue.push(sub);
      }
    }
  }
  return reach;
}

function checkBridge(s: ConfigSources): Problem[] {
  if (!s.supabase) return [];
  const { source, value: b } = s.supabase;
  const out: Problem[] = [];
  if (s.deployment) {
    const agents = s.deployment.value.agents.entries;
    if (!(b.agent in agents)) {
      out.push(problemAt(source, ['agent'], `unknown agent "${b.agent}" (expected one of: ${Object.keys(agents).join(', ')}; ${s.deployment.source.file})`));
    } else {
      // Whatever a web user types reaches these agents; none may keep the operator's host tools.
      for (const [id, via] of bridgeReach(agents, b.agent)) {
        if (agents[id]!.access !== 'operator') continue;
        const how = via === null ? `web users talk to it through the bridge (${source.file} agent)` : `web users reach it as a subagent of ${via}`;
        out.push(problemAt(s.deployment.source, ['agents', 'entries', id, 'access'], `agent ${id} cannot have operator access: ${how}; use "public"`));
      }
    }
  }
  const env = s.environments.find((e) => e.value.name === b.environment);
  if (!env) {
    const names = s.environments.map((e) => e.value.name).join(', ');
    out.push(problemAt(source, ['environment'], `unknown environment "${b.environment}" (expected one of: ${names})`));
  } else if (!publicGatewayUrl(env.value)) {
    out.push(problemAt(source, ['environment'], `${b.environment} has no gateway.publicUrl for the bridge to reach (${env.source.file})`));
  } else if (env.value.gateway.bind === 'loopback' && !env.value.gateway.tls) {
    out.push(problemAt(source, ['environment'], `${b.environment}'s gateway binds to loopback; the bridge cannot reach it (${env.source.file} gateway.bind)`));
  }
  return out;
}

function unresolvedModel(providers: readonly Provider[], ref: string, broken: ReadonlySet<string>): string | undefined {
  if (resolveModel(providers, ref)) return undefined;
  const { providerId, modelId } = splitModelRef(ref);
  // Its own file's problems are reported already; a second report here would only be noise.
  if (broken.has(providerId)) return undefined;
  const provider = providers.find((p) => p.id === providerId);
  if (!provider) {
    return `"${ref}" names provider "${providerId}", which is not declared (expected one of: ${providers.map((p) => p.id).join(', ')})`;
  }
  return `"${ref}": provider ${providerId} declares no model "${modelId}" (it declares: ${provider.models.map((m) => m.id).join(', ')})`;
}

function checkPorts(s: ConfigSources): Problem[] {
  const out: Problem[] = [];
  const gatewayPort = s.deployment?.value.gateway.port;
  const byPort = new Map<number, Parsed<Provider>>();
  for (const parsed of s.providers) {
    const { source, value: p } = parsed;
    if (!p.proxy) continue;
    const at = ['proxy', 'port'];
    if (p.proxy.port === gatewayPort) {
      out.push(problemAt(source, at, `port ${p.proxy.port} is the gateway's port (config/openclaw.json gateway.port)`));
    }
    const other = byPort.get(p.proxy.port);
    if (other) {
      out.push(problemAt(source, at, `port ${p.proxy.port} is already used by the ${other.value.id} proxy (${other.source.file})`));
    } else byPort.set(p.proxy.port, parsed);
  }
  return out;
}

function checkSecrets(s: ConfigSources): Problem[] {
  const out: Problem[] = [];
  if (!s.secrets) return out;
  const declared = s.secrets.value.secrets;
  const need = (source: Parsed<unknown>['source'], path: PropertyKey[], name: string, what: string) => {
    if (!(name in declared)) {
      out.push(problemAt(source, path, `secret ${name} (${what}) is not declared in ${s.secrets!.source.file}`));
    }
  };
  for (const { source, value: p } of s.providers) need(source, ['apiKeySecret'], p.apiKeySecret, `the ${p.id} API key`);
  if (s.deployment) {
    need(s.deployment.source, ['gateway', 'auth', 'token', 'secret'], s.deployment.value.gateway.auth.token.secret, 'the gateway token');
  }
  for (const { source, value: e } of s.environments) {
    if (e.target.kind === 'ssh' && e.target.privateKeySecret) need(source, ['target', 'privateKeySecret'], e.target.privateKeySecret, `the ${e.name} SSH key`);
    if (e.target.kind === 'ssh' && e.target.factsPrivateKeySecret) need(source, ['target', 'factsPrivateKeySecret'], e.target.factsPrivateKeySecret, `the ${e.name} read-only SSH key`);
    if (e.secrets.source === 'dotenv') e.secrets.generate?.forEach((n, i) => need(source, ['secrets', 'generate', i], n, 'a secret to generate'));
    // Stand-ins of AWS in place of AWS: only for a machine that says it is a test machine.
    if (e.secrets.source === 'host-ssm' && e.secrets.endpoints && e.test !== true) {
      out.push(problemAt(source, ['secrets', 'endpoints'], `endpoints point the host at stand-ins of AWS, for test environments only (test: true); ${e.name} is not one`, 'key'));
    }
  }
  if (s.supabase) {
    const { source, value: b } = s.supabase;
    need(source, ['secrets', 'gatewayToken'], b.secrets.gatewayToken, 'the bridge\'s gateway token');
    need(source, ['secrets', 'deviceKey'], b.secrets.deviceKey, 'the bridge\'s device key');
    need(source, ['secrets', 'accessToken'], b.secrets.accessToken, 'the Supabase deploy token');
  }
  return out;
}

function checkEnvironments(s: ConfigSources, providers: readonly Provider[]): Problem[] {
  const out: Problem[] = [];
  for (const { source, value: e } of s.environments) {
    const expected = basename(source.file);
    if (e.name !== expected) out.push(problemAt(source, ['name'], `environment name "${e.name}" must match its file name "${expected}"`));
    if (e.services === 'systemd') {
      if (!e.user) out.push(problemAt(source, [], 'a systemd environment needs user: the account that owns the files and runs the services'));
      if (!e.runtime) out.push(problemAt(source, [], 'a systemd environment needs runtime: {node, openclaw} versions to install'));
      if (!e.paths.runtime) out.push(problemAt(source, ['paths'], 'a systemd environment needs paths.runtime: where Node and OpenClaw are installed'));
      if (e.paths.state.startsWith('~') || e.paths.proxies.startsWith('~'))
        out.push(problemAt(source, ['paths'], 'a systemd environment needs absolute paths; ~ is only for the local environment'));
    }
    if (e.services === 'user') {
      if (e.target.kind !== 'local') out.push(problemAt(source, ['services'], 'user services are the operator\'s own, on this machine: only a local target has them'));
      if (!e.runtime) out.push(problemAt(source, [], 'an environment with user services needs runtime: {node, openclaw} versions to run'));
      if (!e.paths.runtime) out.push(problemAt(source, ['paths'], 'an environment with user services needs paths.runtime: where Node and OpenClaw are installed'));
    }
    out.push(...checkGatewayTransport(source, e));
    if (e.gateway.bind !== 'loopback' || e.gateway.tls) {
      // OpenClaw's audit counts both as findings on a gateway reachable from the network
      // (gateway.control_ui.allowed_origins_required, gateway.auth_no_rate_limit); through the TLS
      // hop a loopback gateway is as reachable.
      const exposed = e.gateway.bind !== 'loopback' ? `a gateway bound to ${e.gateway.bind}` : 'a gateway behind the TLS hop';
      const ui = e.gateway.controlUi;
      if ((ui?.enabled ?? true) && !ui?.allowedOrigins) {
        out.push(
          problemAt(
            source,
            ['gateway', 'bind'],
            `${exposed} serves its Control UI to the network: set gateway.controlUi.allowedOrigins (the browser origins allowed to open it) or gateway.controlUi.enabled: false`,
          ),
        );
      }
      if (!e.gateway.auth?.rateLimit) {
        out.push(
          problemAt(
            source,
            ['gateway', 'bind'],
            `${exposed} needs gateway.auth.rateLimit: failed token guesses from the network are otherwise not throttled`,
          ),
        );
      }
    }
    if (e.target.kind === 'ssh' && (e.target.privateKeySecret === undefined) === (e.target.instanceConnect === undefined)) {
      out.push(
        problemAt(
          source,
          ['target'],
          e.target.instanceConnect
            ? 'privateKeySecret and instanceConnect both say which key logs in: keep one'
            : 'an SSH target needs a key: privateKeySecret (a stored key) or instanceConnect (a fresh key each run)',
        ),
      );
    }
    if (e.target.kind === 'ssh') out.push(...checkFleet(source, e));
    else if (e.rollout) out.push(problemAt(source, ['rollout'], 'rollout is for a fleet (target.hosts or target.instances); this environment has one host'));
    if (e.target.kind === 'ssh' && e.target.factsUser !== undefined) {
      if (e.services === 'none') out.push(problemAt(source, ['target', 'factsUser'], 'a read-only facts user reads system units through sudo: it needs services: systemd'));
      if (e.target.factsUser === e.target.user || e.target.factsUser === e.user) {
        out.push(problemAt(source, ['target', 'factsUser'], `factsUser must be a user of its own, not ${e.target.factsUser}: its login runs only the facts program`));
      }
    }
    if (e.target.kind === 'ssh' && e.target.factsPrivateKeySecret !== undefined && e.target.factsUser === undefined) {
      out.push(problemAt(source, ['target', 'factsPrivateKeySecret'], 'factsPrivateKeySecret is the key of target.factsUser, which is not set'));
    }
    if (e.target.kind === 'ssh' && e.target.via && e.target.proxyCommand !== undefined) {
      out.push(problemAt(source, ['target', 'via'], 'via and proxyCommand both say how to reach the host: keep one'));
    }
    const accepted = new Map<string, number>();
    e.security?.accept.forEach((a, i) => {
      const first = accepted.get(a.check);
      if (first !== undefined) out.push(problemAt(source, ['security', 'accept', i, 'check'], `${a.check} is already accepted (security.accept[${first}]); accept each check once`));
      else accepted.set(a.check, i);
    });
    for (const [id, override] of Object.entries(e.providers ?? {})) {
      const p = providers.find((x) => x.id === id);
      if (!p) {
        out.push(
          problemAt(source, ['providers', id], `unknown provider "${id}" (expected one of: ${providers.map((x) => x.id).join(', ')})`, 'key'),
        );
        continue;
      }
      if (p.proxy && override.baseUrl) {
        out.push(
          problemAt(
            source,
            ['providers', id, 'baseUrl'],
            `${id} is served through its proxy at ${proxyBaseUrl(p.proxy.port)}; OpenClaw never calls it directly (set upstream to change where the proxy sends requests)`,
            'key',
          ),
        );
      }
      if (!p.proxy && override.upstream) {
        out.push(problemAt(source, ['providers', id, 'upstream'], `${id} has no proxy; set baseUrl to change where OpenClaw calls it`, 'key'));
      }
    }
  }
  return out;
}

/** An SSH target names its hosts one way, and each host can be reached and pinned. */
function checkFleet(source: ConfigSources['environments'][number]['source'], e: Environment): Problem[] {
  const out: Problem[] = [];
  if (e.target.kind !== 'ssh') return out;
  const t = e.target;
  const ways = (['host', 'hosts', 'instances'] as const).filter((k) => t[k] !== undefined);
  if (ways.length !== 1) {
    out.push(problemAt(source, ['target'], ways.length ? `${ways.join(' and ')} both say which hosts: keep one` : 'an SSH target needs host (one host), hosts (a list) or instances (EC2 instances by tag)'));
  }
  if (t.host !== undefined && !t.hostKey) out.push(problemAt(source, ['target'], 'an SSH target needs hostKey: the host key it pins ("ssh-keyscan -t ed25519 HOST")'));
  const needsId = [t.instanceConnect && 'instanceConnect', t.via?.ssm && 'via.ssm'].filter((x): x is string => !!x);
  if (t.host !== undefined) {
    if (t.instanceConnect && !t.instanceConnect.instanceId) out.push(problemAt(source, ['target', 'instanceConnect'], 'instanceConnect needs instanceId: the instance the key is pushed to'));
    if (t.via?.ssm && !t.via.ssm.instanceId) out.push(problemAt(source, ['target', 'via', 'ssm'], 'via.ssm needs instanceId: the instance the session opens on'));
  }
  if (t.hosts) {
    const seen = new Map<string, number>();
    t.hosts.forEach((h, i) => {
      const first = seen.get(h.name);
      if (first !== undefined) out.push(problemAt(source, ['target', 'hosts', i, 'name'], `the host name ${h.name} is already target.hosts[${first}]'s; each host needs its own`));
      else seen.set(h.name, i);
      if (needsId.length && !h.instanceId) out.push(problemAt(source, ['target', 'hosts', i], `${needsId.join(' and ')} ${needsId.length > 1 ? 'need' : 'needs'} this host's instanceId`));
    });
  }
  if (t.hosts || t.instances) {
    for (const k of ['instanceConnect', 'ssm'] as const) {
      const id = k === 'ssm' ? t.via?.ssm?.instanceId : t.instanceConnect?.instanceId;
      if (id) out.push(problemAt(source, k === 'ssm' ? ['target', 'via', 'ssm', 'instanceId'] : ['target', 'instanceConnect', 'instanceId'], 'in a fleet each host names its own instance: remove this one'));
    }
  }
  if (t.instances && !t.instances.hostKeys && !t.hostKey) {
    out.push(problemAt(source, ['target', 'instances'], 'instances found by tag need pinned host keys: instances.hostKeys (by instance id) or the target\'s hostKey'));
  }
  if (e.rollout && !t.hosts && !t.instances) out.push(problemAt(source, ['rollout'], 'rollout is for a fleet (target.hosts or target.instances); this environment has one host'));
  return out;
}

/**
 * The gateway token and the device signature cross the hop between clients and the gateway: off
 * this machine it is TLS (Caddy, gateway.tls) unless the environment is a test one.
 */
function checkGatewayTransport(source: Parsed<unknown>['source'], e: Environment): Problem[] {
  const out: Problem[] = [];
  const { tls, publicUrl, bind } = e.gateway;
  const url = publicGatewayUrl(e);
  const host = url ? urlHost(url) : undefined;
  const offLoopback = host !== undefined && !isLoopbackHost(host);
  if (publicUrl && isPlaintextUrl(publicUrl) && offLoopback && !e.test) {
    out.push(problemAt(source, ['gateway', 'publicUrl'], `${publicUrl} is plaintext: the gateway token and the device signature would cross the network unencrypted; declare gateway.tls and use ${tls ? tlsUrl(tls) : 'https://<domain>'} (or mark a test environment test: true)`));
  } else if (bind !== 'loopback' && !tls && offLoopback && !e.test) {
    out.push(problemAt(source, ['gateway', 'bind'], `a gateway bound to ${bind} without gateway.tls listens in plaintext on the network: bind it to loopback and declare gateway.tls (Caddy serves ${url} and passes requests to it)`));
  }
  if (!tls) return out;
  if (bind !== 'loopback') {
    out.push(problemAt(source, ['gateway', 'bind'], `with gateway.tls, Caddy reaches the gateway on loopback: bind: loopback (bound to ${bind}, its plaintext port would be open beside the TLS one)`));
  }
  if (e.services !== 'systemd') {
    out.push(problemAt(source, ['gateway', 'tls'], 'the TLS hop is a Caddy system unit: it needs services: systemd', 'key'));
  }
  if (publicUrl && publicUrl !== tlsUrl(tls)) {
    out.push(problemAt(source, ['gateway', 'publicUrl'], `expected ${tlsUrl(tls)}, the TLS hop's address (gateway.tls.domain), or no publicUrl at all; found ${publicUrl}`));
  }
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(tls.domain);
  if (tls.issuer === 'internal') {
    if (!e.test) out.push(problemAt(source, ['gateway', 'tls', 'issuer'], 'issuer internal is Caddy\'s local CA, which no client trusts by itself: only a test environment (test: true) may use it; use acme'));
    if (tls.acme) out.push(problemAt(source, ['gateway', 'tls', 'acme'], 'acme settings with issuer internal: keep one', 'key'));
  } else {
    if (ip) out.push(problemAt(source, ['gateway', 'tls', 'domain'], `an ACME certificate is issued for a domain name, not an address (${tls.domain}): point a name's A/AAAA record at the server and use it`));
    if (tls.lifetime) out.push(problemAt(source, ['gateway', 'tls', 'lifetime'], 'lifetime is set by the ACME CA; it applies to issuer internal only', 'key'));
  }
  return out;
}

function urlHost(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * What the deployment guide forbids of the instance's security group: SSH open to the world, any
 * rule reaching a proxy (they listen on loopback only), and the gateway's port open to the world.
 * 443 serves the TLS hop; 80 is there only for an ACME HTTP-01 challenge, and must say so.
 */
function checkSecurityGroups(s: ConfigSources): Problem[] {
  const out: Problem[] = [];
  const gatewayPort = s.deployment?.value.gateway.port;
  const proxies = s.providers.flatMap(({ value: p }) => (p.proxy ? [{ id: p.id, port: p.proxy.port }] : [])).sort((a, b) => a.port - b.port);
  for (const { source, value: e } of s.environments) {
    const seen = new Map<string, number>();
    e.securityGroup?.ingress.forEach((rule, i) => {
      const at = (key: string) => ['securityGroup', 'ingress', i, key];
      const { from, to } = portRange(rule.port);
      const covers = (port: number) => from <= port && port <= to;
      if (from > to || to > 65535) {
        out.push(problemAt(source, at('port'), `expected a range from a lower to a higher port, at most 65535; found "${rule.port}"`));
        return;
      }
      // EC2 keeps a block by its network address: another spelling would never match what it describes.
      const canonical = canonicalCidr(rule.cidr);
      if (canonical !== rule.cidr) out.push(problemAt(source, at('cidr'), `expected the block's network address, ${canonical}: EC2 stores ${rule.cidr} as that`));
      const key = `${rule.protocol} ${from}-${to} ${canonical}`;
      const first = seen.get(key);
      if (first !== undefined) out.push(problemAt(source, at('cidr'), `the same rule as securityGroup.ingress[${first}]; EC2 refuses a duplicate rule`));
      else seen.set(key, i);
      if (rule.protocol !== 'tcp') return;
      if (covers(22) && isWorld(rule.cidr)) {
        out.push(problemAt(source, at('cidr'), `port 22 (SSH) cannot be open to ${rule.cidr}: allow the operator's own address (a /32), or close it and use Session Manager`));
      }
      for (const p of proxies) {
        if (covers(p.port)) out.push(problemAt(source, at('port'), `port ${p.port} is the ${p.id} proxy's, which serves this machine only (loopback); no rule may open it`));
      }
      if (gatewayPort !== undefined && covers(gatewayPort) && isWorld(rule.cidr)) {
        out.push(problemAt(source, at('cidr'), `port ${gatewayPort} is the gateway's (config/openclaw.json gateway.port) and cannot be open to ${rule.cidr}: allow only the addresses that reach it (the edge function's)`));
      }
      if (covers(80) && !/\bACME\b/i.test(rule.description)) {
        out.push(problemAt(source, at('description'), 'port 80 is opened only for an ACME HTTP-01 challenge (the TLS certificate): say so in the description, such as "ACME HTTP-01 challenge"'));
      }
    });
  }
  return out;
}
