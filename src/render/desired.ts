import type { ProxyKind } from '../schema/provider.js';
import type { FactsAccess } from './facts-access.js';

/** What one environment should look like: every managed file and service. Output of render(). */
export interface DesiredState {
  environment: string;
  /**
   * Who runs the units: systemd (system units, as root), user (the operator's own user units,
   * systemctl --user) or none (files only; `clawops up` runs the units in the foreground).
   */
  services: ServiceManager;
  files: DesiredFile[];
  /** Folders whose mode and owner clawops keeps: OpenClaw's state folder, private to its user. */
  folders?: DesiredFolder[];
  units: DesiredService[];
  host: HostLayout;
  /**
   * Warnings of OpenClaw's security audit the environment accepts, with their reasons
   * (security.accept): every plan lists them, so none is accepted silently.
   */
  acceptedFindings?: AcceptedFinding[];
}

export interface AcceptedFinding {
  /** The audit's checkId. */
  check: string;
  reason: string;
}

/** How long a service may take to pass its health gate when the environment does not say. */
export const DEFAULT_GATE_SECONDS = 180;

export type ServiceManager = 'systemd' | 'user' | 'none';

/** Where clawops keeps its own records on a host, and where the pinned runtime lives. */
export interface HostLayout {
  /** Releases, the current-release link, the lock and the audit log. */
  clawopsDir: string;
  /** Owner of clawopsDir and the deployed files (systemd environments). */
  user?: string;
  /** How long each service may take to pass its health gate after a (re)start. */
  gateSeconds?: number;
  /** Debian packages apply installs with apt when the host lacks them (caddy, for the TLS hop). */
  packages?: string[];
  /** Units of the system that must not run, each with why (Debian's own caddy.service). */
  disable?: { unit: string; reason: string }[];
  /** The read-only facts user (target.factsUser) and what apply installs for it. */
  facts?: FactsAccess;
  /** Folders whose files the read-only facts program may read: state, proxies, runtime. */
  managedFolders?: string[];
  runtime?: {
    /** registry: the host fetches the runtime from this npm registry itself (runtime.fetch: registry): Node's tarball and OpenClaw's tree. */
    node: { version: string; dir: string; bin: string; registry?: string };
    /** Absent when the operator runs their own OpenClaw (RenderContext.openclaw). */
    openclaw?: { version: string; dir: string; entry: string };
  };
}

export type FileRole = 'openclaw-config' | 'env' | 'proxy-config' | 'proxy-program' | 'unit' | 'tls-config';

export interface DesiredFile {
  /** Absolute path on the target. */
  path: string;
  /** Path inside a rendered folder (render --out), such as proxies/gemini/proxy.json. */
  name: string;
  role: FileRole;
  /** Octal mode, such as 0o600. */
  mode: number;
  /** Owning account; undefined leaves ownership to whoever writes (the local environment). */
  owner?: string;
  /**
   * The file's text. For an env file this is its template: names only, values filled in at apply
   * time from the environment's secret source.
   */
  content: string;
  /** Holds secret values once applied: never shown, never hashed without a key. */
  sensitive: boolean;
  /** For env files: variable name → the secret it is filled from. */
  secrets?: Record<string, string>;
  /**
   * A file holding secrets that a rollback takes back from a kept release: copied on the host from
   * `path`, never read by clawops (`content` is empty); `digest` is that release's keyed digest of it.
   */
  fromHost?: { path: string; digest: string };
}

/** A folder clawops keeps at one mode and owner (its contents are the files' and OpenClaw's own). */
export interface DesiredFolder {
  path: string;
  /** Octal mode, such as 0o700. */
  mode: number;
  owner?: string;
}

/**
 * A health endpoint's body that says healthy (an extended regular expression, for grep -E and
 * RegExp alike). The body must say so: OpenClaw answers 200 on unknown paths (its web UI), so a
 * status alone proves nothing. OpenClaw's /readyz says {"ready":true}, a proxy's /healthz {"status":"ok"}.
 */
export const HEALTHY_BODY = '"(ok|ready)": ?true|"status": ?"ok"';

export interface DesiredService {
  /** systemd unit name, such as gemini-proxy.service. */
  name: string;
  /** tls: Caddy, the TLS hop in front of the gateway. */
  kind: 'gateway' | 'proxy' | 'tls';
  proxy?: ProxyKind;
  /** Port it listens on (loopback for proxies). */
  port: number;
  /** Where it must listen: loopback only, or every address of the host (the gateway's bind mode lan). */
  bind: 'loopback' | 'lan';
  /** Where a health gate checks it, on the host. */
  health: string;
  /** Extra curl words for the health gate (the TLS hop's: reach it on this host whatever DNS says). */
  healthCurl?: string[];
  /** Units this one starts after; proxies come before the gateway. */
  after: string[];
  /** Files whose change restarts it. */
  restartOn: string[];
  /** Files whose change it picks up by itself (OpenClaw's hot reload), with no restart. */
  reloadOn: string[];
  /** How it runs: what a unit file says, and what `clawops up` starts. */
  run: ProcessSpec;
}

/** One service's process: its words, folder and environment; secrets only through its env file. */
export interface ProcessSpec {
  /** Program and arguments, never a secret. */
  exec: string[];
  cwd: string;
  environment: Record<string, string>;
  /** The env file holding its secrets (systemd EnvironmentFile=); a program with none has none. */
  environmentFile?: string;
}

/** What render() needs besides config, gathered by the caller: render itself reads nothing. */
export interface RenderContext {
  /** Home folder of the operator, for ~ in local paths. */
  home: string;
  /** Replaces the environment's state folder (OPENCLAW_STATE_DIR), for the local environment. */
  stateDir?: string;
  /** The built, self-contained proxy programs, by kind. */
  proxyPrograms: Record<ProxyKind, string>;
  /**
   * For an environment with user services: whether this machine has a user service manager
   * (systemctl --user). Without one the units are not installed, and `clawops up` runs them.
   */
  userServices?: boolean;
  /** `clawops up` runs the units itself, in the foreground: the runtime is installed, the units are not. */
  foreground?: boolean;
  /** The operator's own `openclaw` program, run instead of the pinned one (local environment). */
  openclaw?: string;
}
