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
  envName: string;
  desired: DesiredState;
  summary: ReturnType<typeof summarize>;
  secrets: SecretLookup;
  /** Things a person should know before the run, such as secrets written empty. */
  warnings: string[];
  revision: string;
  holder: string;
  /**
   * Reaches the host as target.user; `{ readOnly: true }` as target.factsUser instead, when the
   * environment declares one (a transport that runs only the facts program), else as target.user.
   */
  connect(opts?: { readOnly?: boolean }): Promise<Transport>;
  /** The read-only facts user (target.factsUser), or null. */
  factsUser: string | null;
  /** The edge function this environment's gateway is fronted by, or null. */
  edge: EdgeInput | null;
  /** The environment's EC2 security group, or null when it declares none. */
  securityGroup: SecurityGroupInput | null;
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
  if (env.target.kind !== 'local') {
    if (local.flagged) throw new UsageError(`--port and --openclaw are for an environment on this machine; ${envName} runs on ${env.target.kind === 'ssh' ? env.target.host : 'a host'}`);
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
  const needed = [...new Set(desired.files.flatMap((f) => Object.values(f.secrets ?? {})))].sort();
  const { lookup: secrets, warnings } = await loadSecrets(env, Object.keys(config.secrets), processEnv, root, needed, `${desired.host.clawopsDir}/generated.env`);
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
  return {
    edge,
    securityGroup,
    config,
    envName,
    desired,
    summary: summarize(config, envName),
    secrets,
    warnings,
    revision,
    holder,
    factsUser: target.kind === 'ssh' ? (target.factsUser ?? null) : null,
    async connect(opts = {}) {
      if (target.kind === 'local') return new LocalTransport();
      const readOnly = opts.readOnly === true && target.factsUser !== undefined;
      const user = readOnly ? target.factsUser! : target.user;
      const where = `${user}@${target.host}:${target.port}`;
      const { SshTransport } = await import('../transport/ssh.js');
      let proxyCommand = target.proxyCommand;
      if (target.via?.ssm) {
        const missing = ssmSessionPrerequisites(processEnv.PATH);
        if (missing) throw new TransportError(where, 'connect', missing);
        proxyCommand = ssmProxyCommand(target.via.ssm, target.port);
      }
      let privateKey: string | undefined;
      if (target.instanceConnect) {
        const ic = target.instanceConnect;
        const { SdkInstanceConnect } = await import('../aws/instance-connect-sdk.js');
        try {
          // Pushed right before connecting: the key is valid on the instance for 60 seconds.
          privateKey = await pushFreshKey(new SdkInstanceConnect({ region: ic.region }), {
            instanceId: ic.instanceId,
            osUser: user,
            ...(ic.availabilityZone ? { availabilityZone: ic.availabilityZone } : {}),
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
        host: target.host,
        port: target.port,
        user,
        privateKey,
        hostKey: target.hostKey,
        ...(proxyCommand === undefined ? {} : { proxyCommand }),
      });
      return readOnly ? new ReadOnlyTransport(ssh, FACTS_PROGRAM_NAME) : ssh;
    },
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
