import type { Config } from '../config/model.js';
import { PROXY_HOST } from '../config/rules.js';
import type { Environment } from '../schema/environment.js';
import type { Provider, ProxyKind } from '../schema/provider.js';
import { DEFAULT_GATE_SECONDS, type DesiredFile, type DesiredService, type DesiredState, type HostLayout, type RenderContext } from './desired.js';
import { envTemplate } from './envfile.js';
import { gatewaySecrets, renderOpenclawConfig } from './openclaw.js';
import { environmentPaths, type EnvironmentPaths } from './paths.js';
import { renderUnit } from './systemd.js';

export const GATEWAY_UNIT = 'openclaw-gateway.service';
export const proxyUnit = (p: Provider) => `${p.id}-proxy.service`;

/** Proxy settings a proxy reads at start (proxy.json); the API key comes from its env file. */
export const PROXY_TIMEOUT_MS = 60_000;
export const PROXY_MAX_BODY_BYTES = 4 * 1024 * 1024;

export class RenderError extends Error {}

/** Stable JSON: two-space indent and a final newline, so the same input gives identical bytes. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Turns validated config into one environment's desired state. Pure and deterministic: everything
 * it needs from outside (home folder, built proxy programs) comes in `ctx`.
 */
export function render(config: Config, envName: string, ctx: RenderContext): DesiredState {
  const env = config.environments.find((e) => e.name === envName);
  if (!env) {
    throw new RenderError(
      `unknown environment "${envName}" (expected one of: ${config.environments.map((e) => e.name).join(', ')})`,
    );
  }
  const paths = environmentPaths(env, ctx);
  const owner = env.services === 'systemd' ? env.user : undefined;
  const files: DesiredFile[] = [];
  const units: DesiredService[] = [];
  const file = (f: Omit<DesiredFile, 'owner'> & { owner?: string }) => files.push({ ...f, owner: f.owner ?? owner });

  const reloadMode = config.deployment.gateway.reload.mode;
  const gatewayVars = Object.fromEntries(gatewaySecrets(config).map((s) => [s, s]));
  file({
    path: paths.config,
    name: 'openclaw.json',
    role: 'openclaw-config',
    mode: 0o600,
    content: stableJson(renderOpenclawConfig(config, env)),
    sensitive: false,
  });
  file({
    path: paths.gatewayEnv,
    name: 'gateway.env',
    role: 'env',
    mode: 0o600,
    content: envTemplate(gatewayVars),
    sensitive: true,
    secrets: gatewayVars,
  });

  const proxyUnits: string[] = [];
  for (const p of config.providers) {
    if (!p.proxy) continue;
    const dir = `${paths.proxies}/${p.id}`;
    const program = `${dir}/${p.proxy.kind}-proxy.mjs`;
    const settings = `${dir}/proxy.json`;
    const envFile = `${dir}/proxy.env`;
    const vars = { [p.apiKeySecret]: p.apiKeySecret };
    file({ path: program, name: `proxies/${p.id}/${p.proxy.kind}-proxy.mjs`, role: 'proxy-program', mode: 0o644, content: ctx.proxyPrograms[p.proxy.kind], sensitive: false });
    file({ path: settings, name: `proxies/${p.id}/proxy.json`, role: 'proxy-config', mode: 0o644, content: stableJson(proxySettings(p, env)), sensitive: false });
    file({ path: envFile, name: `proxies/${p.id}/proxy.env`, role: 'env', mode: 0o600, content: envTemplate(vars), sensitive: true, secrets: vars });
    if (env.services === 'systemd') {
      const unit = proxyUnit(p);
      const unitPath = `${paths.units}/${unit}`;
      file({
        path: unitPath,
        name: `systemd/${unit}`,
        role: 'unit',
        mode: 0o644,
        owner: 'root',
        content: renderUnit({
          description: `${p.name} compatibility proxy for OpenClaw (managed by clawops)`,
          after: [],
          user: env.user!,
          workingDirectory: dir,
          environment: {},
          environmentFile: envFile,
          exec: [nodeBin(env, paths), program, '--config', settings],
        }),
        sensitive: false,
      });
      units.push({
        name: unit,
        kind: 'proxy',
        proxy: p.proxy.kind,
        port: p.proxy.port,
        health: `http://${PROXY_HOST}:${p.proxy.port}/healthz`,
        after: [],
        restartOn: [unitPath, program, settings, envFile],
        reloadOn: [],
      });
      proxyUnits.push(unit);
    }
  }

  if (env.services === 'systemd') {
    const unitPath = `${paths.units}/${GATEWAY_UNIT}`;
    file({
      path: unitPath,
      name: `systemd/${GATEWAY_UNIT}`,
      role: 'unit',
      mode: 0o644,
      owner: 'root',
      content: renderUnit({
        description: 'OpenClaw gateway (managed by clawops)',
        after: proxyUnits,
        user: env.user!,
        workingDirectory: paths.state,
        environment: {
          OPENCLAW_STATE_DIR: paths.state,
          OPENCLAW_CONFIG_PATH: paths.config,
          // systemd supervises: skip OpenClaw's own restart triage after a failed start.
          OPENCLAW_SUPERVISOR_MODE: 'external',
        },
        environmentFile: paths.gatewayEnv,
        exec: [nodeBin(env, paths), openclawEntry(env, paths), 'gateway', 'run'],
      }),
      sensitive: false,
    });
    units.push({
      name: GATEWAY_UNIT,
      kind: 'gateway',
      port: config.deployment.gateway.port,
      health: `http://127.0.0.1:${config.deployment.gateway.port}/readyz`,
      after: proxyUnits,
      // OpenClaw picks up an atomically replaced openclaw.json by itself (hybrid reload).
      restartOn: reloadMode === 'hybrid' ? [unitPath, paths.gatewayEnv] : [unitPath, paths.gatewayEnv, paths.config],
      reloadOn: reloadMode === 'hybrid' ? [paths.config] : [],
    });
  }

  files.sort((a, b) => a.path.localeCompare(b.path));
  return { environment: env.name, services: env.services, files, units, host: hostLayout(env, paths) };
}

function hostLayout(env: Environment, paths: EnvironmentPaths): HostLayout {
  const layout: HostLayout = {
    clawopsDir: `${paths.state}/.clawops`,
    ...(env.services === 'systemd' ? { user: env.user } : {}),
    gateSeconds: env.gates?.timeoutSeconds ?? DEFAULT_GATE_SECONDS,
  };
  if (env.runtime && paths.runtime) {
    const nodeDir = `${paths.runtime}/node/${env.runtime.node}`;
    const openclawDir = `${paths.runtime}/openclaw/${env.runtime.openclaw}`;
    layout.runtime = {
      node: { version: env.runtime.node, dir: nodeDir, bin: `${nodeDir}/bin/node` },
      openclaw: { version: env.runtime.openclaw, dir: openclawDir, entry: `${openclawDir}/node_modules/openclaw/openclaw.mjs` },
    };
  }
  return layout;
}

function proxySettings(p: Provider, env: Environment) {
  return {
    kind: p.proxy!.kind satisfies ProxyKind,
    port: p.proxy!.port,
    upstream: env.providers?.[p.id]?.upstream ?? p.baseUrl,
    apiKeyEnv: p.apiKeySecret,
    timeoutMs: PROXY_TIMEOUT_MS,
    maxBodyBytes: PROXY_MAX_BODY_BYTES,
    models: p.models.map((m) => ({
      id: m.id,
      name: m.name,
      contextWindow: m.contextWindow,
      maxTokens: m.maxTokens,
      ...(m.sampling ? { sampling: m.sampling } : {}),
    })),
  };
}

function nodeBin(env: Environment, paths: EnvironmentPaths): string {
  return hostLayout(env, paths).runtime!.node.bin;
}

function openclawEntry(env: Environment, paths: EnvironmentPaths): string {
  return hostLayout(env, paths).runtime!.openclaw.entry;
}
