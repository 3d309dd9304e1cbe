import { execFile } from 'node:child_process';
import { hostname, userInfo } from 'node:os';
import { promisify } from 'node:util';
import type { Config } from '../config/model.js';
import { render } from '../render/render.js';
import type { DesiredState } from '../render/desired.js';
import { summarize } from '../plan/summary.js';
import type { SecretLookup } from '../plan/diff.js';
import { LocalTransport } from '../transport/local.js';
import { ReadOnlyTransport } from '../transport/read-only.js';
import { FACTS_PROGRAM_NAME } from '../render/facts-access.js';
import { TransportError, type Transport } from '../transport/transport.js';
import { ssmProxyCommand, ssmSessionPrerequisites } from '../transport/ssm-session.js';
import { InstanceConnectError, pushFreshKey } from '../aws/instance-connect.js';
import { join } from 'node:path';
import type { EdgeInput } from '../apply/edge.js';
import type { SecurityGroupInput } from '../apply/security-group.js';
import { ManagementApiSupabase } from '../supabase/management-api.js';
import { readFunctionFiles } from '../supabase/function-source.js';
import { movePorts } from '../config/ports.js';
import { loadSecrets } from './secrets.js';
import { renderContext, UsageError, type Install } from './workspace.js';
import { readFile } from 'node:fs/promises';
import type { HostSecrets } from '../apply/host-secrets.js';
import type { HostSecretVersions } from '../plan/secret-compare.js';
import { isFleet, members, type Member, type SshTarget } from './fleet.js';
import type { FoundInstance, InstanceDirectory } from '../aws/instances.js';

/** The EC2 instance directory, its SDK loaded only when a fleet is found by tag. */
class LazyDirectory implements InstanceDirectory {
  constructor(
    private readonly region: string,
    private readonly endpoint: string | undefined,
  ) {}

  async runningWithTags(tags: Readonly<Record<string, string>>): Promise<FoundInstance[]> {
    const { Ec2Instances } = await import('../aws/ec2-adapter.js');
    const ec2 = new Ec2Instances({ region: this.region, ...(this.endpoint ? { endpoint: this.endpoint } : {}) });
    try {
      return await ec2.runningWithTags(tags);
    } finally {
      ec2.close();
    }
  }
}

/** Choices for an environment on this machine (flags, or CLAWOPS_LOCAL_PORT and CLAWOPS_OPENCLAW). */
export interface LocalOptions {
  /** The gateway's port; the proxies keep their offsets from it. */
  port?: number;
  /** The operator's own `openclaw` program instead of the pinned one. */
  openclaw?: string;
  /** For `clawops up`: it runs the units itself (no units installed, even where a user service manager runs). */
  foreground?: boolean;
  /** port or openclaw came as flags: for a host that is an error, where the variables are ignored. */
  flagged?: boolean;
  /** --host NAME: of a fleet, only this host. */
  host?: string;
}

/** One host of the environment, and how to reach it. */
export interface HostLink {
  /** Its name in the fleet (the environment's name for a single host). */
  name: string;
  /** user@host:port, or "local". */
  where: string;
  /** The instance's Name tag, for a fleet found by tag. */
  label?: string;
  connect(opts?: ConnectOptions): Promise<Transport>;
}

/** readOnly: as the target's read-only facts user (target.factsUser), where it names one. */
export interface ConnectOptions {
  readOnly?: boolean;
}

/**
 * Whether this machine has a user service manager that clawops can use: `systemctl --user` reaches
 * the operator's own systemd (not so where PID 1 is not systemd, or without a login session).
 */
export async function hasUserServiceManager(): Promise<boolean> {
  try {
    await promisify(execFile)('systemctl', ['--user', 'show-environment'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Everything a plan, apply, drift or rollback run needs, gathered at the edge. */
export interface Deployment {
  config: Config;
  /** The deployment's repository (config/, runtime/, the function's source). */
  root: string;
  envName: string;
  desired: DesiredState;
  summary: ReturnType<typeof summarize>;
  secrets: SecretLookup;
  /** Things a person should know before the run, such as secrets written empty. */
  warnings: string[];
  revision: string;
  holder: string;
  /**
   * The one host (for a fleet without --host, a usage error naming its hosts), as target.user;
   * `{ readOnly: true }` as target.factsUser instead, when the environment declares one (a
   * transport that runs only the facts program).
   */
  connect(opts?: ConnectOptions): Promise<Transport>;
  /** Every host the run covers: one, or the fleet's (only the one --host names). */
  hosts: HostLink[];
  /** How apply rolls out, for a fleet; null for one host. */
  rollout: { batch: number | string; maxFailPercentage: number } | null;
  /** The read-only facts user (target.factsUser), or null. */
  factsUser: string | null;
  /** The edge function this environment's gateway is fronted by, or null. */
  edge: EdgeInput | null;
  /** The environment's EC2 security group, or null when it declares none. */
  securityGroup: SecurityGroupInput | null;
  /** Secrets the host reads itself (host-ssm), with their parameters' current versions. */
  hostSecrets?: HostSecrets & HostSecretVersions;
}

export async function prepare(
  config: Config,
  envName: string,
  processEnv: NodeJS.ProcessEnv,
  install: Install,
  root: string,
  local: LocalOptions = {},
): Promise<Deployment> {
  const env = config.environments.find((e) => e.name === envName);
  if (!env) throw new UsageError(`unknown environment "${envName}" (expected one of: ${config.environments.map((e) => e.name).join(', ')})`);
  const only = local.host;
  if (only !== undefined && !isFleet(env.target)) throw new UsageError(`--host is for a fleet; ${envName} has one host`);
  if (env.target.kind !== 'local') {
    if (local.flagged) throw new UsageError(`--port and --openclaw are for an environment on this machine; ${envName} runs on ${env.target.kind === 'ssh' ? (env.target.host ?? 'its hosts') : 'a host'}`);
    local = {};
  }
  if (local.port !== undefined) {
    const moved = movePorts(config, local.port);
    if ('problem' in moved) throw new UsageError(moved.problem);
    config = moved;
  }
  const userServices = env.services === 'user' && !local.foreground && (await hasUserServiceManager());
  const machine = { userServices, ...(local.foreground ? { foreground: true } : {}), ...(local.openclaw ? { openclaw: local.openclaw } : {}) };
  const desired = render(config, envName, await renderContext(processEnv, install, machine));
  const needed = env.secrets.source === 'host-ssm' ? [] : [...new Set(desired.files.flatMap((f) => Object.values(f.secrets ?? {})))].sort();
  const { lookup: secrets, warnings } = await loadSecrets(env, Object.keys(config.secrets), processEnv, root, needed, `${desired.host.clawopsDir}/generated.env`);
  const hostSecrets = env.secrets.source === 'host-ssm' ? await hostSecretsOf(env.secrets, desired, install, warnings) : undefined;
  const revision = processEnv.CLAWOPS_REVISION || processEnv.GITHUB_SHA || (await gitRevision(root));
  const holder =
    processEnv.GITHUB_ACTIONS === 'true'
      ? `github-actions ${processEnv.GITHUB_REPOSITORY ?? ''}#${processEnv.GITHUB_RUN_ID ?? ''} by ${processEnv.GITHUB_ACTOR ?? 'unknown'}`
      : `${safeUser()}@${hostname()}`;
  const target = env.target;
  const sb = config.supabase;
  let edge: EdgeInput | null = null;
  if (sb && sb.environment === envName) {
    const accessToken = secrets(sb.secrets.accessToken);
    edge = {
      config,
      // SUPABASE_API_URL points the adapter elsewhere (a stand-in in tests); Supabase's by default.
      port: accessToken ? new ManagementApiSupabase({ accessToken, ...(processEnv.SUPABASE_API_URL ? { baseUrl: processEnv.SUPABASE_API_URL } : {}) }) : null,
      files: await readFunctionFiles(join(root, sb.function.source)),
      secrets,
    };
  }
  let securityGroup: SecurityGroupInput | null = null;
  if (env.securityGroup) {
    // Loaded only here: an environment without a group never loads the EC2 SDK. Credentials come
    // from the SDK's chain; AWS_ENDPOINT_URL_EC2 points it elsewhere (a stand-in in tests).
    const { Ec2SecurityGroups } = await import('../aws/ec2-adapter.js');
    const endpoint = processEnv.AWS_ENDPOINT_URL_EC2 || processEnv.AWS_ENDPOINT_URL;
    securityGroup = { group: env.securityGroup, port: new Ec2SecurityGroups({ region: env.securityGroup.region, ...(endpoint ? { endpoint } : {}) }) };
  }
  let hosts: HostLink[];
  if (target.kind === 'local') hosts = [{ name: envName, where: 'local', connect: async () => new LocalTransport() }];
  else {
    const all = await targetMembers(envName, target, processEnv);
    const chosen = only === undefined ? all : all.filter((m) => m.name === only);
    if (!chosen.length) throw new UsageError(`--host ${only}: ${envName} has no such host (expected one of: ${all.map((m) => m.name).join(', ')})`);
    hosts = chosen.map((m) => ({ name: m.name, where: `${target.user}@${m.host}:${m.port}`, ...(m.label ? { label: m.label } : {}), connect: sshConnect(envName, target, m, secrets, processEnv) }));
  }
  const fleet = isFleet(target) && only === undefined;
  return {
    edge,
    securityGroup,
    ...(hostSecrets ? { hostSecrets } : {}),
    config,
    root,
    envName,
    desired,
    summary: summarize(config, envName),
    secrets,
    warnings,
    revision,
    holder,
    hosts,
    rollout: fleet ? { batch: env.rollout?.batch ?? 1, maxFailPercentage: env.rollout?.maxFailPercentage ?? 0 } : null,
    factsUser: target.kind === 'ssh' ? (target.factsUser ?? null) : null,
    connect(opts) {
      if (fleet) {
        throw new UsageError(`${envName} is a fleet of ${hosts.length} hosts (${hosts.map((h) => h.name).join(', ')}): pass --host NAME to run this on one of them`);
      }
      return hosts[0]!.connect(opts);
    },
  };
}

/** The hosts of an SSH target: its one host, its list, or its instances found by tag in EC2. */
export function targetMembers(envName: string, target: SshTarget, processEnv: NodeJS.ProcessEnv): Promise<Member[]> {
  const endpoint = processEnv.AWS_ENDPOINT_URL_EC2 || processEnv.AWS_ENDPOINT_URL;
  // The EC2 SDK is loaded only for a fleet found by tag.
  return members(envName, target, () => new LazyDirectory(target.instances!.region, endpoint));
}

/** How to reach one host of an SSH target, with the target's user (or its read-only facts user),
 * key and way in. */
function sshConnect(envName: string, target: SshTarget, m: Member, secrets: SecretLookup, processEnv: NodeJS.ProcessEnv): (opts?: ConnectOptions) => Promise<Transport> {
  return async (opts = {}) => {
    const readOnly = opts.readOnly === true && target.factsUser !== undefined;
    const user = readOnly ? target.factsUser! : target.user;
    const where = `${user}@${m.host}:${m.port}`;
    const { SshTransport } = await import('../transport/ssh.js');
    let proxyCommand = target.proxyCommand;
    if (target.via?.ssm) {
      const missing = ssmSessionPrerequisites(processEnv.PATH);
      if (missing) throw new TransportError(where, 'connect', missing);
      proxyCommand = ssmProxyCommand({ region: target.via.ssm.region, instanceId: target.via.ssm.instanceId ?? m.instanceId! }, m.port);
    }
    let privateKey: string | undefined;
    if (target.instanceConnect) {
      const ic = target.instanceConnect;
      const { SdkInstanceConnect } = await import('../aws/instance-connect-sdk.js');
      const availabilityZone = ic.availabilityZone ?? m.availabilityZone;
      try {
        // Pushed right before connecting, for the user this run logs in as: valid 60 seconds.
        privateKey = await pushFreshKey(new SdkInstanceConnect({ region: ic.region }), {
          instanceId: ic.instanceId ?? m.instanceId!,
          osUser: user,
          ...(availabilityZone ? { availabilityZone } : {}),
        });
      } catch (err) {
        if (err instanceof InstanceConnectError) throw new TransportError(where, 'push key', err.message, err);
        throw err;
      }
    } else if (readOnly && target.factsPrivateKeySecret) {
      privateKey = secrets(target.factsPrivateKeySecret);
      if (!privateKey) throw new UsageError(`the secret ${target.factsPrivateKeySecret} (read-only SSH key for ${envName}) has no value in this environment`);
    } else if (target.privateKeySecret) {
      privateKey = secrets(target.privateKeySecret);
      if (!privateKey) throw new UsageError(`the secret ${target.privateKeySecret} (SSH key for ${envName}) has no value in this environment`);
    }
    if (!privateKey) throw new UsageError(`${envName}: the SSH target has no key (privateKeySecret or instanceConnect)`);
    const ssh = await SshTransport.connect({
      host: m.host,
      port: m.port,
      user,
      privateKey,
      hostKey: m.hostKey,
      ...(proxyCommand === undefined ? {} : { proxyCommand }),
    });
    return readOnly ? new ReadOnlyTransport(ssh, FACTS_PROGRAM_NAME) : ssh;
  };
}

async function gitRevision(root: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD']);
    return stdout.trim() || 'unversioned';
  } catch {
    return 'unversioned';
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * For secrets the host reads itself: the program it runs, and the current version of each
 * parameter (DescribeParameters, no value). Without versions (no AWS credentials here, or no
 * ssm:DescribeParameters) the plan says the env files were not compared, and why.
 */
async function hostSecretsOf(
  source: { region: string; prefix: string; endpoints?: { ssm: string; metadata: string } | undefined },
  desired: DesiredState,
  install: Install,
  warnings: string[],
): Promise<HostSecrets & HostSecretVersions> {
  const programPath = join(install.programsDir, '..', 'host', 'ssm-env.mjs');
  let program: string;
  try {
    program = await readFile(programPath, 'utf8');
  } catch {
    throw new UsageError(`the host's secrets program is not built (${programPath}): run \`npm run build\``);
  }
  const names = [...new Set(desired.files.flatMap((f) => Object.values(f.secrets ?? {})))].sort();
  let versions: Record<string, number> | null = null;
  try {
    const { parameterVersions } = await import('../secrets/ssm.js');
    versions = await parameterVersions({ region: source.region, prefix: source.prefix, names });
  } catch (e) {
    warnings.push(`the versions of the parameters under ${source.prefix} could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    region: source.region,
    prefix: source.prefix,
    program,
    environment: source.endpoints ? { AWS_ENDPOINT_URL_SSM: source.endpoints.ssm, AWS_EC2_METADATA_SERVICE_ENDPOINT: source.endpoints.metadata } : {},
    versions,
  };
}
