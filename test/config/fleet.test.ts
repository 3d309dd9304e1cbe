import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import { edit, repoFiles } from '../support/repo.js';

const files = await repoFiles();
const EC2 = 'config/environments/ec2.yaml';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetTestKey0000000000000000000000000000000';

/** ec2.yaml with its one host (address, host key, instance) replaced by `target` lines (indented
 * under target:): in a fleet each host names its own instance. */
const fleet = (lines: string, extra = '') =>
  edit(files, EC2, (t) =>
    t
      .replace(/instanceId: i-[0-9a-f]+, /g, '')
      .replace(/^(?: {2}#.*\n)* {2}host: .*\n/m, lines)
      .replace(/^(?: {2}#.*\n)* {2}hostKey: .*\n/m, '')
      .replace(/^services: /m, `${extra}services: `),
  );

function problems(changed: ReturnType<typeof fleet>): string[] {
  const result = loadConfig(changed);
  return result.ok ? [] : result.problems.map(formatProblem);
}

const HOSTS = `  hosts:\n    - { name: gw-1, host: 192.0.2.1, instanceId: i-0aaaaaaaaaaaaaaa1, hostKey: ${KEY} }\n    - { name: gw-2, host: 192.0.2.2, port: 2222, instanceId: i-0aaaaaaaaaaaaaaa2, hostKey: ${KEY} }\n`;

describe('a fleet in an environment', () => {
  test('a list of hosts with a rollout policy is valid', () => {
    assert.deepEqual(problems(fleet(HOSTS, 'rollout:\n  batch: "34%"\n  maxFailPercentage: 10\n')), []);
  });

  test('instances by tag with their host keys are valid', () => {
    assert.deepEqual(problems(fleet(`  instances:\n    tag: { Role: openclaw }\n    region: us-east-2\n    hostKeys: { i-0123456789abcdef0: ${KEY} }\n`)), []);
  });

  test('two hosts of one name, at the file and line of the second', () => {
    assert.deepEqual(problems(fleet(HOSTS.replace('name: gw-2', 'name: gw-1'))), [
      "config/environments/ec2.yaml:8:15: target.hosts[1].name: the host name gw-1 is already target.hosts[0]'s; each host needs its own",
    ]);
  });

  test('host and hosts at once, and neither', () => {
    assert.match(problems(fleet(`  host: 192.0.2.9\n  hostKey: ${KEY}\n${HOSTS}`)).join('\n'), /^config\/environments\/ec2\.yaml:\d+:\d+: target: host and hosts both say which hosts: keep one$/m);
    assert.match(problems(fleet('')).join('\n'), /target: an SSH target needs host \(one host\), hosts \(a list\) or instances \(EC2 instances by tag\)$/m);
  });

  test('instances without any pinned host key', () => {
    assert.match(problems(fleet('  instances:\n    tag: { Role: openclaw }\n    region: us-east-2\n')).join('\n'), /^config\/environments\/ec2\.yaml:\d+:\d+: target\.instances: instances found by tag need pinned host keys/m);
  });

  test('a rollout policy on one host, and a batch that is neither a count nor a percentage', () => {
    assert.match(problems(edit(files, EC2, (t) => t.replace(/^services: /m, 'rollout: { batch: 2 }\nservices: '))).join('\n'), /^config\/environments\/ec2\.yaml:\d+:\d+: rollout: rollout is for a fleet/m);
    assert.match(problems(fleet(HOSTS, 'rollout: { batch: "half" }\n')).join('\n'), /rollout\.batch: /);
    assert.match(problems(fleet(HOSTS, 'rollout: { batch: "150%" }\n')).join('\n'), /rollout\.batch: /);
  });

  test('Instance Connect and Session Manager in a fleet need each host\'s instance id', () => {
    const out = problems(fleet(HOSTS.replace(/instanceId: i-\w+, /g, ''))).join('\n');
    assert.match(out, /target\.hosts\[0\]: instanceConnect and via.ssm need this host's instanceId/);
    assert.match(out, /target\.hosts\[1\]: instanceConnect and via.ssm need this host's instanceId/);
  });
});
