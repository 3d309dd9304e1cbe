// `clawops doctor`: a one-time check of everything between this machine and an environment's host,
// in the order a run needs it, each finding with what to do about it. Everything outside comes in
// through `DoctorDeps` (the AWS ports, the SSH transport, PATH), so the order, the dependencies
// between checks and the advice are tested without AWS or a host.
import { CallerIdentityError, type CallerIdentityPort } from '../aws/caller-identity.js';
import { InstanceConnectError, pushFreshKey, type InstanceConnectPort } from '../aws/instance-connect.js';
import { ManagedInstanceError, type ManagedInstancesPort } from '../aws/managed-instance.js';
import type { Environment } from '../schema/environment.js';
import { HostError, type Transport } from '../transport/transport.js';
import { awsCliInstall, pluginInstall } from './install-hints.js';

type SshTarget = Extract<Environment['target'], { kind: 'ssh' }>;

/** The one host doctor checks, with its address, host key and instance settled: the environment's
 * host, or one member of a fleet. */
export type DoctorTarget = Omit<SshTarget, 'host' | 'hostKey' | 'hosts' | 'instances' | 'via' | 'instanceConnect'> & {
  host: string;
  hostKey: string;
  via?: { ssm: { region: string; instanceId: string } };
  instanceConnect?: { region: string; instanceId: string; availabilityZone?: string };
};

export interface Check {
  title: string;
  status: 'ok' | 'missing' | 'not tried';
  detail: string;
  /** What to do, when something is missing. */
  fix?: string;
}

export interface DoctorDeps {
  /** Where a program is on PATH, or undefined. */
  findProgram(name: string): string | undefined;
  /** The first line a program prints for --version, or undefined when it fails. */
  version(path: string): Promise<string | undefined>;
  platform: string;
  arch: string;
  identity(region: string): CallerIdentityPort;
  instances(region: string): ManagedInstancesPort;
  instanceConnect(region: string): InstanceConnectPort;
  /** A stored key's value (privateKeySecret), for a target without Instance Connect. */
  secret(name: string): string | undefined;
  /** An SSH connection to the target as `user`, through the target's route, pinning its host key. */
  connect(user: string, privateKey: string): Promise<Transport>;
  /** A word the facts user's login must not echo back. */
  nonce(): string;
}

const ok = (title: string, detail: string): Check => ({ title, status: 'ok', detail });
const missing = (title: string, detail: string, fix: string): Check => ({ title, status: 'missing', detail, fix });
const notTried = (title: string, detail: string): Check => ({ title, status: 'not tried', detail });

export async function doctor(envName: string, target: DoctorTarget, deps: DoctorDeps): Promise<Check[]> {
  const checks: Check[] = [];
  const ssm = target.via?.ssm;
  const ic = target.instanceConnect;
  const region = ssm?.region ?? ic?.region;
  const file = `config/environments/${envName}.yaml`;

  // 1. The programs an SSM session runs on this machine.
  let programs = true;
  if (ssm) {
    for (const [name, title, fix] of [
      ['aws', 'AWS CLI', awsCliInstall(deps.platform, deps.arch)],
      ['session-manager-plugin', 'Session Manager plugin', pluginInstall(deps.platform, deps.arch)],
    ] as const) {
      const path = deps.findProgram(name);
      if (!path) {
        programs = false;
        checks.push(missing(title, `${name} is not on PATH`, fix));
        continue;
      }
      const version = await deps.version(path);
      if (version === undefined) {
        programs = false;
        checks.push(missing(title, `${path} --version fails`, fix));
      } else checks.push(ok(title, `${version} (${path})`));
    }
  }

  // 2. Credentials, for Session Manager and Instance Connect.
  let credentials = true;
  if (region) {
    try {
      const id = await deps.identity(region).callerIdentity();
      checks.push(ok('AWS credentials', id.arn));
    } catch (e) {
      if (!(e instanceof CallerIdentityError)) throw e;
      credentials = false;
      checks.push(
        missing(
          'AWS credentials',
          e.message,
          'on a terminal: aws sso login --profile NAME && export AWS_PROFILE=NAME (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); in GitHub Actions: the job assumes its role with aws-actions/configure-aws-credentials and has permissions id-token: write',
        ),
      );
    }
  }

  // 3. The instance, registered with Systems Manager and its agent online.
  let online = true;
  if (ssm) {
    const title = `${ssm.instanceId} in Systems Manager`;
    if (!credentials) {
      online = false;
      checks.push(notTried(title, 'needs AWS credentials'));
    } else {
      try {
        const found = await deps.instances(ssm.region).describe(ssm.instanceId);
        if (!found) {
          online = false;
          checks.push(
            missing(
              title,
              `not a managed node in ${ssm.region}: its SSM Agent has not registered it`,
              `give the instance an instance profile whose role has the policy AmazonSSMManagedInstanceCore; check the agent runs (sudo snap services amazon-ssm-agent) and reaches the SSM endpoints over HTTPS; and check via.ssm.instanceId and region in ${file}`,
            ),
          );
        } else if (found.pingStatus !== 'Online') {
          online = false;
          checks.push(
            missing(
              title,
              `PingStatus is ${found.pingStatus}, not Online`,
              'the agent is not reaching Systems Manager: on the instance, sudo snap restart amazon-ssm-agent, and check its outbound HTTPS and its instance profile (AmazonSSMManagedInstanceCore)',
            ),
          );
        } else {
          checks.push(ok(title, `Online${found.agentVersion ? `, agent ${found.agentVersion}` : ''}${found.platformName ? `, ${found.platformName}` : ''}`));
        }
      } catch (e) {
        if (!(e instanceof ManagedInstanceError)) throw e;
        online = false;
        checks.push(missing(title, e.message, 'let these credentials call ssm:DescribeInstanceInformation (it takes Resource "*")'));
      }
    }
  }

  // 4. Each login a run makes: the host user (apply), then the read-only facts user (plans, drift).
  const route = ssm ? 'through the SSM session' : target.proxyCommand ? 'through the proxy command' : `to ${target.host}:${target.port}`;
  const logins: { user: string; facts: boolean }[] = [{ user: target.user, facts: false }, ...(target.factsUser ? [{ user: target.factsUser, facts: true }] : [])];
  for (const { user, facts } of logins) {
    const sshTitle = `SSH as ${user}`;
    const after = facts ? `${user}'s login runs only the facts program` : `sudo as ${user}`;
    let key: string | undefined;
    if (ic) {
      const title = `Instance Connect key for ${user}`;
      if (!credentials) {
        checks.push(notTried(title, 'needs AWS credentials'), notTried(sshTitle, 'needs a key'), notTried(after, 'needs the login'));
        continue;
      }
      try {
        key = await pushFreshKey(deps.instanceConnect(ic.region), { instanceId: ic.instanceId, osUser: user, ...(ic.availabilityZone ? { availabilityZone: ic.availabilityZone } : {}) });
        checks.push(ok(title, 'pushed; the instance accepts it for 60 seconds'));
      } catch (e) {
        if (!(e instanceof InstanceConnectError)) throw e;
        checks.push(missing(title, e.message, pushFix(e, user, file)), notTried(sshTitle, 'needs a key'), notTried(after, 'needs the login'));
        continue;
      }
    } else if (target.privateKeySecret) {
      key = deps.secret(target.privateKeySecret);
      if (!key) {
        checks.push(
          missing(`SSH key for ${user}`, `the secret ${target.privateKeySecret} has no value here`, `export ${target.privateKeySecret} with the private key, or use instanceConnect in ${file}`),
          notTried(sshTitle, 'needs a key'),
          notTried(after, 'needs the login'),
        );
        continue;
      }
    }
    if (!key) continue;
    if (ssm && (!programs || !online)) {
      checks.push(notTried(sshTitle, !programs ? 'needs the AWS CLI and the Session Manager plugin' : 'needs the instance Online in Systems Manager'), notTried(after, 'needs the login'));
      continue;
    }
    let transport: Transport;
    try {
      transport = await deps.connect(user, key);
      checks.push(ok(sshTitle, `${route}, the host key is the pinned one`));
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      checks.push(missing(sshTitle, e.message, sshFix(e, user, { ssm: !!ssm, ic: !!ic, file })), notTried(after, 'needs the login'));
      continue;
    }
    try {
      if (facts) {
        const word = deps.nonce();
        const res = await transport.run(['echo', word], { timeoutMs: 60_000 });
        if (res.stdout.includes(word)) {
          checks.push(
            missing(
              after,
              `the login ran the command asked for (echo): ${user} can run any command`,
              `on the instance, in /etc/ssh/sshd_config: "Match User ${user}" with "ForceCommand" set to the facts program, then sudo systemctl reload ssh`,
            ),
          );
        } else checks.push(ok(after, `asked for echo, it ran its fixed program instead (exit ${res.code})`));
      } else {
        const res = await transport.run(['sudo', '-n', 'true'], { timeoutMs: 60_000 });
        if (res.code === 0) checks.push(ok(after, 'sudo -n true succeeds'));
        else {
          checks.push(
            missing(
              after,
              `sudo -n true exits ${res.code}${res.stderr.trim() ? `: ${res.stderr.trim().split('\n')[0]}` : ''}`,
              `on the instance: echo '${user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/90-${user} && sudo chmod 0440 /etc/sudoers.d/90-${user}`,
            ),
          );
        }
      }
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      checks.push(missing(after, e.message, 'the connection was lost: run doctor again'));
    } finally {
      await transport.close();
    }
  }
  return checks;
}

function pushFix(e: InstanceConnectError, user: string, file: string): string {
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/.test(e.code)) {
    return `let these credentials push a key for ${user}: ec2-instance-connect:SendSSHPublicKey on the instance with the condition ec2:osuser = ${user} (aws/iam/*.policy.json)`;
  }
  if (e.code === 'EC2InstanceNotFoundException' || e.code === 'InvalidArgsException') return `check instanceConnect.instanceId and region in ${file}`;
  if (e.code === 'EC2InstanceStateInvalidException') return 'start the instance (it must be running)';
  return 'AWS refused the key for the reason above';
}

function sshFix(e: HostError, user: string, how: { ssm: boolean; ic: boolean; file: string }): string {
  if (e.step === 'host key') {
    return `the host offered another key than target.hostKey: on the instance's console, ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub; if it is the instance's own, change the pin in ${how.file} by pull request`;
  }
  if (e.step === 'authenticate') {
    return how.ic
      ? `sshd did not take the pushed key: check that ${user} exists on the instance and that the ec2-instance-connect package is installed (sudo apt install ec2-instance-connect)`
      : `the key is not in ~${user}/.ssh/authorized_keys on the host`;
  }
  if (how.ssm) {
    return 'the SSM session did not carry SSH: aws ssm start-session --target ID --document-name AWS-StartSSHSession --parameters portNumber=22 by hand says why (ssm:StartSession on the instance and on the document AWS-StartSSHSession; sshd running on the instance)';
  }
  return 'check the address, the port and the proxy command';
}

/** The report: a line per check, its fix beneath; a summary line last. */
export function formatDoctor(envName: string, checks: readonly Check[]): string[] {
  const mark = { ok: 'ok       ', missing: 'MISSING  ', 'not tried': 'not tried' } as const;
  const lines = [`clawops doctor --env ${envName}`];
  for (const c of checks) {
    lines.push(`  ${mark[c.status]}  ${c.title}: ${c.detail}`);
    if (c.fix) lines.push(`             fix: ${c.fix}`);
  }
  const bad = checks.filter((c) => c.status === 'missing').length;
  lines.push(bad === 0 ? `All ${checks.length} checks pass: clawops can reach ${envName}.` : `${bad} of ${checks.length} checks found something missing; fix the first one first.`);
  return lines;
}
