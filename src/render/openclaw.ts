import type { Config } from '../config/model.js';
import { proxyBaseUrl } from '../config/rules.js';
import type { Environment } from '../schema/environment.js';
import type { Provider } from '../schema/provider.js';
import type { OpenClawConfig } from './openclaw-config.generated.js';

/** OpenClaw resolves env references through this secret provider. */
const SECRET_PROVIDER = 'default';

/**
 * OpenClaw sends some key to every provider; a proxy ignores it and uses the real key from its
 * own environment, so OpenClaw never holds the keys of proxied providers.
 */
export const PROXY_PLACEHOLDER_KEY = 'held-by-local-proxy';

const envRef = (id: string) => ({ source: 'env' as const, provider: SECRET_PROVIDER, id });

/** Where OpenClaw calls a provider in this environment: its proxy, an override, or the upstream. */
export function openclawBaseUrl(p: Provider, env: Environment): string {
  if (p.proxy) return proxyBaseUrl(p.proxy.port);
  return env.providers?.[p.id]?.baseUrl ?? p.baseUrl;
}

/** The secrets the gateway process itself needs: its token and the keys of unproxied providers. */
export function gatewaySecrets(config: Config): string[] {
  const names = [config.deployment.gateway.auth.token.secret, ...config.providers.filter((p) => !p.proxy).map((p) => p.apiKeySecret)];
  return [...new Set(names)].sort();
}

/**
 * OpenClaw counts a model of this many billion parameters or fewer as small: more easily steered by
 * what it reads, so it must not hold web tools (docs/gateway/security/audit-checks.md,
 * models.small_params; docs/cli/security.md).
 */
export const SMALL_MODEL_MAX_PARAMS_B = 300;

/** provider/model references of the declared models that are small, sorted. */
export function smallModels(config: Config): string[] {
  return config.providers
    .flatMap((p) => p.models.filter((m) => m.parametersB !== undefined && m.parametersB <= SMALL_MODEL_MAX_PARAMS_B).map((m) => `${p.id}/${m.id}`))
    .sort();
}

/**
 * The tool policy of an agent web users can reach (OpenClaw's hardened baseline,
 * docs/gateway/security/hardened-baseline.md): the messaging profile (sessions, subagents, status),
 * web tools on top (taken away again for small models), and never host exec, files, control-plane
 * tools (gateway, cron, plugins), nodes, the browser or messages into other sessions.
 */
export function publicAgentTools() {
  return {
    profile: 'messaging' as const,
    alsoAllow: ['group:web'],
    deny: ['group:runtime', 'group:fs', 'group:automation', 'group:nodes', 'group:ui', 'sessions_send'],
    elevated: { enabled: false },
  };
}

/** openclaw.json in the format of the pinned OpenClaw, typed against its published schema. */
export function renderOpenclawConfig(config: Config, env: Environment): OpenClawConfig {
  const { deployment, chain } = config;
  const [primary, ...fallbacks] = chain as [string, ...string[]];
  const providers = Object.fromEntries(
    config.providers.map((p) => [
      p.id,
      {
        baseUrl: openclawBaseUrl(p, env),
        apiKey: p.proxy ? PROXY_PLACEHOLDER_KEY : envRef(p.apiKeySecret),
        api: 'openai-completions' as const,
        models: p.models.map((m) => ({ id: m.id, name: m.name, contextWindow: m.contextWindow, maxTokens: m.maxTokens })),
      },
    ]),
  );
  const entries = Object.fromEntries(
    Object.entries(deployment.agents.entries).map(([id, a]) => [
      id,
      {
        name: a.name,
        ...(a.description ? { description: a.description } : {}),
        // An agent with its own primary still falls back along the deployment's chain.
        ...(a.model ? { model: { primary: a.model, fallbacks: chain.filter((ref) => ref !== a.model) } } : {}),
        ...(a.subagents ? { subagents: { allowAgents: [...a.subagents.allowAgents] } } : {}),
        ...(a.access === 'public' ? { tools: publicAgentTools() } : {}),
      },
    ]),
  );
  const { controlUi, auth } = env.gateway;
  const small = smallModels(config);
  return {
    gateway: {
      mode: 'local',
      port: deployment.gateway.port,
      bind: env.gateway.bind,
      ...(controlUi ? { controlUi: { enabled: controlUi.enabled, ...(controlUi.allowedOrigins ? { allowedOrigins: [...controlUi.allowedOrigins] } : {}) } } : {}),
      auth: { mode: 'token', token: envRef(deployment.gateway.auth.token.secret), ...(auth?.rateLimit ? { rateLimit: { ...auth.rateLimit } } : {}) },
      reload: { mode: deployment.gateway.reload.mode },
      // Behind the TLS hop every client arrives from Caddy on 127.0.0.1: trusting it as the proxy,
      // OpenClaw takes each client's address from X-Forwarded-For, so rate limits and the loopback
      // exemption apply to the real client (docs/gateway/security/rate-limiting.md).
      ...(env.gateway.tls ? { trustedProxies: ['127.0.0.1'] } : {}),
    },
    secrets: {
      providers: { [SECRET_PROVIDER]: { source: 'env', allowlist: gatewaySecrets(config) } },
    },
    models: { mode: 'replace', providers },
    agents: {
      ownership: 'explicit',
      defaults: {
        model: { primary, fallbacks },
        systemAgent: { agentId: deployment.agents.systemAgent },
      },
      entries,
    },
    tools: {
      // One web user never reaches another's conversations: a session sees itself and the
      // subagents it spawned ("agent" would include every web user's sessions of the same agent),
      // and no agent reads or messages another agent's sessions
      // (docs/gateway/config-tools/sessions-and-subagents.md, docs/gateway/security/trust-model.md).
      sessions: { visibility: 'tree' },
      agentToAgent: { enabled: false },
      // Elevated exec is the escape from a sandbox to the host; nothing here needs it.
      elevated: { enabled: false },
      ...(small.length ? { byProvider: Object.fromEntries(small.map((ref) => [ref, { deny: ['group:web', 'browser'] }])) } : {}),
    },
    plugins: { enabled: deployment.plugins.enabled },
  };
}
