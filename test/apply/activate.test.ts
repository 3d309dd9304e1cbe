import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { activationScript } from '../../src/apply/activate.js';
import type { HostFacts } from '../../src/plan/facts.js';
import { diff } from '../../src/plan/diff.js';
import type { DesiredState } from '../../src/render/desired.js';

const { cases } = JSON.parse(await readFile(new URL('../plan/fixtures/diff-cases.json', import.meta.url), 'utf8')) as {
  cases: { desired: DesiredState; facts: HostFacts }[];
};
const fresh = cases[1]!;
const plan = diff({ desired: fresh.desired, facts: fresh.facts, summary: { chain: [], providers: {}, agents: {} }, secrets: () => 'canary-value-91f2', target: 't', revision: 'r' });
const script = activationScript({
  desired: fresh.desired,
  plan,
  releaseId: '20261124T010000Z-r',
  previous: null,
  removed: [],
  gateSeconds: 30,
  audit: { holder: 'alice@laptop', revision: 'r', planDigest: plan.factsDigest },
});

test('the activation starts proxies before the gateway, each behind its health gate', () => {
  const body = script.slice(script.indexOf('services() {'), script.indexOf('services_back() {'));
  const order = [...body.matchAll(/(systemctl restart|gate) '([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(order, [
    'systemctl restart gemini-proxy.service',
    'gate gemini-proxy.service',
    'systemctl restart openclaw-gateway.service',
    'gate openclaw-gateway.service',
  ]);
  assert.match(body, /^ {2}systemctl daemon-reload \|\| return 1$/m);
});

test('files are installed by atomic rename from the staged release, and no value is in the script', () => {
  assert.match(script, /^ {2}put '\/srv\/\.openclaw\/\.clawops\/releases\/20261124T010000Z-r\/files\/gateway\.env' '\/srv\/\.openclaw\/gateway\.env' 600 'ubuntu' \|\| return 1$/m);
  assert.match(script, /mv -fT "\$dest\.clawops-new" "\$dest"/);
  assert.ok(!script.includes('canary-value-91f2'));
});

test('a first release has nothing to roll back to, and says so', () => {
  assert.match(script, /switch_back\(\) \{\n {2}progress "no previous release to roll back to"\n {2}return 1\n\}/);
});
