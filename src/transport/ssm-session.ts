// SSH over AWS Systems Manager Session Manager: the SSH stream travels inside an SSM session, so the
// instance needs no open port 22. The session is the proxy command AWS documents for ssh
// (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-getting-started-enable-ssh-connections.html):
//   aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters 'portNumber=%p'
// Host-key pinning and authentication are unchanged: SSM only carries the bytes.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { shellQuote, type Command } from './transport.js';

export interface SsmSessionTarget {
  instanceId: string;
  region: string;
}

/** The words of the proxy command: one SSM session to the instance's SSH port, in its region. */
export function ssmSessionCommand(ssm: SsmSessionTarget, port: number): Command {
  return [
    'aws', 'ssm', 'start-session',
    '--target', ssm.instanceId,
    '--document-name', 'AWS-StartSSHSession',
    '--parameters', `portNumber=${port}`,
    '--region', ssm.region,
  ];
}

/** The proxy command as a shell line, for SshConnectOptions.proxyCommand. */
export function ssmProxyCommand(ssm: SsmSessionTarget, port: number): string {
  return shellQuote(ssmSessionCommand(ssm, port));
}

// What start-session needs on the operator's machine: the AWS CLI, and the plugin it hands the
// session's stream to. Each with where its installation is described.
const NEEDED = [
  { name: 'aws', what: 'the AWS CLI', install: 'https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html' },
  {
    name: 'session-manager-plugin',
    what: 'the Session Manager plugin',
    install: 'https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html',
  },
] as const;

/**
 * Why an SSM session cannot start from this machine, as one line: which of the programs are not on
 * `searchPath` (PATH's value) and where to get them; undefined when both are there.
 */
export function ssmSessionPrerequisites(searchPath: string | undefined): string | undefined {
  const dirs = (searchPath ?? '').split(delimiter).filter(Boolean);
  const missing = NEEDED.filter((n) => !dirs.some((d) => isExecutable(join(d, n.name))));
  if (missing.length === 0) return undefined;
  return `reaching the host through SSM needs ${missing.map((m) => `${m.name} (${m.what})`).join(' and ')} on PATH: install ${missing
    .map((m) => `${m.what} (${m.install})`)
    .join(' and ')}`;
}

/** Where `name` is on `searchPath` (PATH's value), as the shell would find it; undefined when it is not. */
export function findOnPath(name: string, searchPath: string | undefined): string | undefined {
  return (searchPath ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, name))
    .find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
