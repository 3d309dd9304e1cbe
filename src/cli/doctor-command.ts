// `clawops doctor --env NAME`: the real adapters behind the doctor's ports, and its report.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { SdkInstanceConnect } from '../aws/instance-connect-sdk.js';
import { SsmManagedInstances } from '../aws/ssm-instances-adapter.js';
import { StsCallerIdentity } from '../aws/sts-adapter.js';
import type { Config } from '../config/model.js';
import { targetMembers } from './deploy.js';
import type { Member, SshTarget } from './fleet.js';
import { doctor, formatDoctor, type DoctorDeps, type DoctorTarget } from '../doctor/doctor.js';
import { SshTransport } from '../transport/ssh.js';
import { findOnPath, ssmProxyCommand } from '../transport/ssm-session.js';
import type { Output } from './output.js';
import { UsageError } from './workspace.js';

export async function doctorCommand(config: Config, envName: string, output: Output, env: NodeJS.ProcessEnv): Promise<number> {
  const e = config.environments.find((x) => x.name === envName);
  if (!e) throw new UsageError(`unknown environment "${envName}" (expected one of: ${config.environments.map((x) => x.name).join(', ')})`);
  const target = e.target;
  if (target.kind !== 'ssh') throw new UsageError(`${envName} runs on this machine: doctor checks the way to a host over SSH`);
  const all = await targetMembers(envName, target, env);
  let missing = false;
  for (const m of all) {
    const one = hostOf(target, m);
    if (all.length > 1) output.out(`== ${m.name} (${one.host})`);
    const checks = await doctor(envName, one, deps(one, env));
    for (const line of formatDoctor(envName, checks)) output.out(line);
    missing ||= checks.some((c) => c.status === 'missing');
  }
  return missing ? 1 : 0;
}

/** One member of the target, with the instance it names in place of the target's. */
function hostOf(target: SshTarget, m: Member): DoctorTarget {
  const { hosts: _hosts, instances: _instances, via, instanceConnect: ic, ...rest } = target;
  const instanceId = (id: string | undefined): string => {
    const found = id ?? m.instanceId;
    if (!found) throw new UsageError(`${m.name}: no instance id for Systems Manager or Instance Connect: set instanceId in the target`);
    return found;
  };
  const availabilityZone = ic?.availabilityZone ?? m.availabilityZone;
  return {
    ...rest,
    host: m.host,
    port: m.port,
    hostKey: m.hostKey,
    ...(via?.ssm ? { via: { ssm: { region: via.ssm.region, instanceId: instanceId(via.ssm.instanceId) } } } : {}),
    ...(ic ? { instanceConnect: { region: ic.region, instanceId: instanceId(ic.instanceId), ...(availabilityZone ? { availabilityZone } : {}) } } : {}),
  };
}

function deps(target: DoctorTarget, env: NodeJS.ProcessEnv): DoctorDeps {
  const proxyCommand = target.via?.ssm ? ssmProxyCommand(target.via.ssm, target.port) : target.proxyCommand;
  const stsEndpoint = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  return {
    findProgram: (name) => findOnPath(name, env.PATH),
    version: async (path) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(path, ['--version'], { timeout: 30_000, env });
        return (stdout.trim() || stderr.trim()).split('\n')[0] || undefined;
      } catch {
        return undefined;
      }
    },
    platform: process.platform,
    arch: process.arch,
    identity: (region) => new StsCallerIdentity({ region, ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) }),
    // The SDK clients take AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT themselves.
    instances: (region) => new SsmManagedInstances({ region }),
    instanceConnect: (region) => new SdkInstanceConnect({ region }),
    secret: (name) => env[name] || undefined,
    connect: async (user, privateKey) =>
      SshTransport.connect({ host: target.host, port: target.port, user, privateKey, hostKey: target.hostKey, ...(proxyCommand ? { proxyCommand } : {}) }),
    nonce: () => `clawops-doctor-${randomBytes(6).toString('hex')}`,
  };
}
