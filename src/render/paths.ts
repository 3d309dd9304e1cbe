import type { Environment } from '../schema/environment.js';
import type { RenderContext } from './desired.js';

export interface EnvironmentPaths {
  state: string;
  config: string;
  gatewayEnv: string;
  proxies: string;
  runtime?: string;
  units: string;
}

function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? `${home.replace(/\/$/, '')}/${path.slice(2)}` : path;
}

export function environmentPaths(env: Environment, ctx: RenderContext): EnvironmentPaths {
  const state = env.target.kind === 'local' && ctx.stateDir ? ctx.stateDir : expandHome(env.paths.state, ctx.home);
  const proxies = expandHome(env.paths.proxies, ctx.home);
  return {
    state,
    config: `${state}/openclaw.json`,
    gatewayEnv: `${state}/gateway.env`,
    proxies: env.target.kind === 'local' && ctx.stateDir && env.paths.proxies.startsWith(env.paths.state)
      ? `${state}${env.paths.proxies.slice(env.paths.state.length)}`
      : proxies,
    ...(env.paths.runtime ? { runtime: expandHome(env.paths.runtime, ctx.home) } : {}),
    // systemd's own folders for units an administrator (or a user) installs.
    units: env.services === 'user' ? `${ctx.home.replace(/\/$/, '')}/.config/systemd/user` : '/etc/systemd/system',
  };
}
