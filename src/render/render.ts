import type { Config } from '../config/model.js';
import { PROXY_HOST } from '../config/rules.js';
import type { Environment } from '../schema/environment.js';
import type { Provider, ProxyKind } from '../schema/provider.js';
import { DEFAULT_GATE_SECONDS, type DesiredFile, type DesiredService, type DesiredState, type HostLayout, type ProcessSpec, type RenderContext } from './desired.js';
import { envTemplate } from './envfile.js';
import { gatewaySecrets, renderOpenclawConfig } from './openclaw.js';
import { environmentPaths, type EnvironmentPaths } from './paths.js';
import { CADDY, CADDYFILE, DEBIAN_CADDY_UNIT, renderCaddyfile, TLS_UNIT, tlsGateCurlArgs } from './caddy.js';
import { factsAccess } from './facts-access.js';
import { renderUnit, type UnitSpec } from './systemd.js';

export const GATEWAY_UNIT = 'openclaw-gateway.service';
export const proxyUnit = (p: Provider) => `${p.id}-proxy.service`;
/**
 * How long the gateway may take to stop. On SIGTERM OpenClaw drains: the runs it took finish, new
 * ones are refused, for at most 315 s plus 15 s of cleanup, and it reads the unit's stop timeout to
 * size that drain (75 s under systemd's default 90). Its own unit (`openclaw gateway install`) says
 * TimeoutStopSec=330 and KillMode=mixed, which it requires so its child runtimes are not signalled
 * under the drain (OpenClaw 2026.9.6, docs/gateway/restart-recovery.md, "Systemd stop deadlines").
 */
export const GATEWAY_DRAIN_SECONDS = 330;

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

  // The units: installed as system or user units, or (no service manager) run by `clawops up`.
  const manager = env.services === 'user' ? (ctx.userServices ? 'user' : 'none') : env.services;
  const layout = hostLayout(env, paths, ctx);
  // Installed only where something here runs it: a service manager, or `clawops up`.
  const host: HostLayout = manager === 'none' && !ctx.foreground ? { ...layout, runtime: undefined } : layout;
  const unitFile = (name: string, spec: UnitSpec) => {
    const path = `${paths.units}/${name}`;
    if (manager === 'none') return [];
    file({ path, name: `systemd/${name}`, role: 'unit', mode: 0o644, ...(manager === 'systemd' ? { owner: 'root' } : {}), content: renderUnit(spec), sensitive: false });
    return [path];
  };
  const unitUser = manager === 'systemd' ? { user: env.user! } : {};

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
    if (env.services === 'none' || !layout.runtime) continue;
    const unit = proxyUnit(p);
    const run: ProcessSpec = { exec: [layout.runtime.node.bin, program, '--config', settings], cwd: dir, environment: {}, environmentFile: envFile };
    const unitPaths = unitFile(unit, { description: `${p.name} compatibility proxy for OpenClaw (managed by clawops)`, after: [], ...unitUser, run });
    units.push({
      name: unit,
      kind: 'proxy',
      proxy: p.proxy.kind,
      port: p.proxy.port,
      bind: 'loopback',
      health: `http://${PROXY_HOST}:${p.proxy.port}/healthz`,
      after: [],
      restartOn: [...unitPaths, program, settings, envFile],
      reloadOn: [],
      run,
    });
    proxyUnits.push(unit);
  }

  if (env.services !== 'none' && layout.runtime) {
    const run: ProcessSpec = {
      exec: [...(ctx.openclaw && env.target.kind === 'local' ? [ctx.openclaw] : [layout.runtime.node.bin, layout.runtime.openclaw!.entry]), 'gateway', 'run'],
      cwd: paths.state,
      environment: {
        OPENCLAW_STATE_DIR: paths.state,
        OPENCLAW_CONFIG_PATH: paths.config,
        // A supervisor restarts it: skip OpenClaw's own restart triage after a failed start.
        OPENCLAW_SUPERVISOR_MODE: 'external',
      },
      environmentFile: paths.gatewayEnv,
    };
    const unitPaths = unitFile(GATEWAY_UNIT, { description: 'OpenClaw gateway (managed by clawops)', after: proxyUnits, ...unitUser, run, drainSeconds: GATEWAY_DRAIN_SECONDS });
    units.push({
      name: GATEWAY_UNIT,
      kind: 'gateway',
      port: config.deployment.gateway.port,
      bind: env.gateway.bind,
      health: `http://127.0.0.1:${config.deployment.gateway.port}/readyz`,
      after: proxyUnits,
      // OpenClaw picks up an atomically replaced openclaw.json by itself (hybrid reload).
      restartOn: reloadMode === 'hybrid' ? [...unitPaths, paths.gatewayEnv] : [...unitPaths, paths.gatewayEnv, paths.config],
      reloadOn: reloadMode === 'hybrid' ? [paths.config] : [],
      run,
    });
  }

  // The TLS hop: Caddy from Debian's archive, in a unit of clawops's own, after the gateway.
  const tls = env.gateway.tls;
  if (tls && manager === 'systemd') {
    file({ path: CADDYFILE, name: 'caddy/Caddyfile', role: 'tls-config', mode: 0o644, owner: 'root', content: renderCaddyfile(tls, config.deployment.gateway.port), sensitive: false });
    const run: ProcessSpec = {
      exec: [CADDY.bin, 'run', '--config', CADDYFILE, '--adapter', 'caddyfile'],
      cwd: CADDY.home,
      // Where Caddy keeps its certificates and ACME account: the caddy account's home, as Debian's unit has it.
      environment: { HOME: CADDY.home, XDG_DATA_HOME: `${CADDY.home}/.local/share`, XDG_CONFIG_HOME: `${CADDY.home}/.config` },
    };
    const after = units.some((u) => u.name === GATEWAY_UNIT) ? [GATEWAY_UNIT] : [];
    const unitPaths = unitFile(TLS_UNIT, {
      description: `Caddy: the TLS hop to the OpenClaw gateway, https://${tls.domain} (managed by clawops)`,
      after,
      user: CADDY.user,
      type: 'notify',
      capabilities: ['CAP_NET_BIND_SERVICE'],
      run,
    });
    units.push({
      name: TLS_UNIT,
      kind: 'tls',
      port: tls.port,
      // Caddy serves the TLS hop on every address of the host: what it is there for.
      bind: 'lan',
      health: `https://${tls.domain}:${tls.port}/readyz`,
      healthCurl: tlsGateCurlArgs(tls),
      after,
      restartOn: [...unitPaths, CADDYFILE],
      reloadOn: [],
      run,
    });
    host.packages = [CADDY.package];
    host.disable = [{ unit: DEBIAN_CADDY_UNIT, reason: `Debian's own Caddy: it serves :80 with the package's example site; ${TLS_UNIT} serves the TLS hop` }];
  }

  files.sort((a, b) => a.path.localeCompare(b.path));
  const { runtime, ...bare } = host;
  const accepted = env.security?.accept.map((a) => ({ check: a.check, reason: a.reason })) ?? [];
  // OpenClaw's state holds its sessions, devices and credentials: its folder is its user's alone,
  // as OpenClaw's own audit asks (fs.state_dir.perms_readable), whatever made it first.
  const folders = manager === 'systemd' && owner ? [{ path: paths.state, mode: 0o700, owner }] : [];
  return {
    environment: env.name,
    services: manager,
    files,
    ...(folders.length ? { folders } : {}),
    units,
    host: runtime ? host : bare,
    ...(accepted.length ? { acceptedFindings: accepted } : {}),
  };
}

function hostLayout(env: Environment, paths: EnvironmentPaths, ctx: RenderContext): HostLayout {
  const layout: HostLayout = {
    clawopsDir: `${paths.state}/.clawops`,
    ...(env.services === 'systemd' ? { user: env.user } : {}),
    gateSeconds: env.gates?.timeoutSeconds ?? DEFAULT_GATE_SECONDS,
  };
  if (env.target.kind === 'ssh' && env.target.factsUser && env.services === 'systemd' && paths.runtime) {
    layout.facts = factsAccess(env.target.factsUser, paths.runtime);
    layout.managedFolders = [paths.state, paths.proxies, paths.runtime];
  }
  if (env.runtime && paths.runtime) {
    const nodeDir = `${paths.runtime}/node/${env.runtime.node}`;
    const openclawDir = `${paths.runtime}/openclaw/${env.runtime.openclaw}`;
    layout.runtime = {
      node: {
        version: env.runtime.node,
        dir: nodeDir,
        bin: `${nodeDir}/bin/node`,
        ...(env.runtime.fetch === 'registry' ? { registry: (env.runtime.registry ?? 'https://registry.npmjs.org').replace(/\/+$/, '') } : {}),
      },
      // The operator's own OpenClaw replaces the pinned one: nothing to install for it.
      ...(ctx.openclaw && env.target.kind === 'local'
        ? {}
        : { openclaw: { version: env.runtime.openclaw, dir: openclawDir, entry: `${openclawDir}/node_modules/openclaw/openclaw.mjs` } }),
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
