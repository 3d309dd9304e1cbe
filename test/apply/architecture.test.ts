/**
 * The host's architecture is a fact (`uname -m`), and a runtime clawops cannot build for it is
 * refused before anything changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { architectureRefusal, nodeArch } from '../../src/apply/runtime.js';
import { parseFacts } from '../../src/plan/facts.js';
import type { RuntimeChange } from '../../src/plan/model.js';

const install: RuntimeChange[] = [
  { component: 'node', from: null, to: '24.21.0', action: 'install' },
  { component: 'openclaw', from: null, to: '2026.9.6', action: 'install' },
];
const inPlace: RuntimeChange[] = install.map((c) => ({ ...c, from: c.to, action: 'no-op' }));

test('the probe\'s A line is the host\'s machine, in Node\'s words x64 or arm64', () => {
  assert.equal(parseFacts('A\taarch64\nEND\n').machine, 'aarch64');
  assert.equal(parseFacts('END\n').machine, undefined);
  assert.deepEqual(['x86_64', 'aarch64', 'arm64', 'riscv64'].map(nodeArch), ['x64', 'arm64', 'arm64', 'riscv64']);
});

test('an arm64 host that needs the runtime uploaded is refused, naming the architecture, what would be installed and the way that works', () => {
  assert.equal(
    architectureRefusal(install, 'aarch64'),
    'the host is arm64 (uname -m: aarch64), and clawops uploads x64 builds of Node and OpenClaw only, so it cannot install Node 24.21.0 and OpenClaw 2026.9.6 there; nothing was changed. Use an x64 (amd64) host, or let the host fetch arm64 builds itself (runtime.fetch: registry), or install the pinned versions where the environment\'s runtime path expects them',
  );
  assert.match(architectureRefusal([install[1]!], 'aarch64') ?? '', /cannot install OpenClaw 2026\.9\.6 there/);
});

test('a host that fetches its runtime itself takes the arm64 builds; an architecture with neither is refused', () => {
  assert.equal(architectureRefusal(install, 'aarch64', true), undefined);
  assert.equal(architectureRefusal(install, 'x86_64', true), undefined);
  assert.equal(
    architectureRefusal(install, 'riscv64', true),
    'the host is riscv64 (uname -m: riscv64), and clawops installs x64 and arm64 builds of Node and OpenClaw only, so it cannot install Node 24.21.0 and OpenClaw 2026.9.6 there; nothing was changed. Use an x64 or arm64 host, or install the pinned versions where the environment\'s runtime path expects them',
  );
  assert.doesNotMatch(architectureRefusal(install, 'riscv64') ?? '', /runtime\.fetch/);
});

test('an x64 host, a runtime already in place, or a host that did not say are not refused', () => {
  assert.equal(architectureRefusal(install, 'x86_64'), undefined);
  assert.equal(architectureRefusal(inPlace, 'aarch64'), undefined);
  assert.equal(architectureRefusal(install, undefined), undefined);
});
