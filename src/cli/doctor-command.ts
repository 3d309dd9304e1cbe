// `clawops doctor --env NAME`: the real adapters behind the doctor's ports, and its report.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { SdkInstanceConnect } from '../aws/instance-connect-sdk.js';
import { SsmManagedInstances } from '../aws/ssm-instances-adapter.js';
import { StsCallerIdentity } from '../aws/sts-adapter.js';
import type { Config } from '../config/model.js';
import { doctor, formatDoctor } from '../doctor/doctor.js';
import { SshTransport } from '../transport/ssh.js';
import { findOnPath, ssmProxyCommand } from '../transport/ssm-session.js';
import type { Output } from './output.js';
import { UsageError } from './workspace.js';

export async function doctorCommand(config: Config, envName: string, output: Output, env: NodeJS.ProcessEnv): Promise<number> {
  const e = config.environments.find((x) => x.name === envName);
  if (!e) throw new UsageError(`unknown environment "${envName}" (expected one of: ${config.environments.map((x) => x.name).join(', ')})`);
  const target = e.target;
  if (target.kind !== 'ssh') throw new UsageError(`${envName} runs on this machine: doctor checks the way to a host over SSH`);
  const proxyCommand = target.via?.ssm ? ssmProxyCommand(target.via.ssm, target.port) : target.proxyCommand;
  const stsEndpoint = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  const checks = await doctor(envName, target, {
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
    connect: async (user, privateKey) => {
      return SshTransport.connect({ host: target.host, port: target.port, user, privateKey, hostKey: target.hostKey, ...(proxyCommand ? { proxyCommand } : {}) });
    },
    nonce: () => `clawops-doctor-${randomBytes(6).toString('hex')}`,
  });
  for (const line of formatDoctor(envName, checks)) output.out(line);
  return checks.some((c) => c.status === 'missing') ? 1 : 0;
}
