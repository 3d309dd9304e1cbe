import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { diff, finalContent, type SecretLookup } from '../../src/plan/diff.js';
import { recordDigest, sha256 } from '../../src/plan/digest.js';
import type { HostFacts } from '../../src/plan/facts.js';
import type { Plan } from '../../src/plan/model.js';
import { compareRenders } from '../../src/plan/render-diff.js';
import { semanticDiff, summarize, type ConfigSummary } from '../../src/plan/summary.js';
import type { DesiredState } from '../../src/render/desired.js';
import { render } from '../../src/render/render.js';
import type { PullRequestReport } from '../../src/report/markdown.js';
import { edit, FIXED_CONTEXT, repoFiles } from './repo.js';

/** Secret values of the fixture: canaries that must never appear in any report. */
export const CANARY = { before: 'canary-gateway-token-before-51c7', after: 'canary-gateway-token-after-9e02' };
const secretsWith = (token: string): SecretLookup => (name) => (name === 'OPENCLAW_GATEWAY_TOKEN' ? token : `value-of-${name.toLowerCase()}`);

/** A pull request that reorders the chain, adds and drops a step, adds a model and moves an agent. */
export async function representativeConfigs(): Promise<{ base: Config; head: Config }> {
  const base = await repoFiles();
  let head = edit(base, 'config/fallback-chain.yaml', (t) =>
    t
      .replace('  - deepseek/deepseek-chat\n', '  - cerebras/llama-3.3-70b\n  - deepseek/deepseek-chat\n')
      .replace('  - cerebras/llama-3.3-70b\n  - mistral', '  - mistral')
      .replace('  - gemini/gemini-2.5-flash-lite\n', '  - gemini/gemini-3-pro\n'),
  );
  head = edit(head, 'config/providers/gemini.yaml', (t) => `${t}  - id: gemini-3-pro\n    name: Gemini 3 Pro\n    contextWindow: 1048576\n    maxTokens: 65536\n`);
  head = edit(head, 'config/openclaw.json', (t) => t.replace('"name": "Scribe",', '"name": "Scribe",\n        "model": "groq/llama-3.3-70b-versatile",'));
  const load = (files: typeof base) => {
    const r = loadConfig(files);
    if (!r.ok) throw new Error(`fixture config is invalid: ${JSON.stringify(r.problems)}`);
    return r.config;
  };
  return { base: load(base), head: load(head) };
}

/** Facts of a host that runs exactly what `state` describes, as its last release. */
export function hostRunning(state: DesiredState, secrets: SecretLookup, summary: ConfigSummary): HostFacts {
  const key = 'fixture-digest-key';
  const files: HostFacts['files'] = {};
  const release: NonNullable<HostFacts['release']> = { id: 'r1', revision: 'base', appliedAt: '2026-01-01T00:00:00Z', planDigest: 'x', files: {}, units: state.units.map((u) => u.name), summary };
  for (const f of state.files) {
    const digest = sha256(finalContent(f, secrets)!);
    files[f.path] = { sha256: digest, mode: f.mode.toString(8), owner: f.owner ?? 'ubuntu' };
    release.files[f.path] = { digest: recordDigest(digest, f.sensitive, key), sensitive: f.sensitive, name: f.name, mode: f.mode, ...(f.owner ? { owner: f.owner } : {}) };
  }
  // Its folders as it kept them: OpenClaw's state folder private to its user.
  const folders = Object.fromEntries((state.folders ?? []).map((f) => [f.path, { mode: f.mode.toString(8), owner: f.owner ?? 'ubuntu' }]));
  if (state.folders?.length) release.folders = Object.fromEntries(state.folders.map((f) => [f.path, { mode: f.mode, ...(f.owner ? { owner: f.owner } : {}) }]));
  return {
    files,
    ...(state.folders?.length ? { folders } : {}),
    units: Object.fromEntries([
      ...state.units.map((u) => [u.name, { active: 'active', enabled: 'enabled' }]),
      ...(state.host.disable ?? []).map((d) => [d.unit, { active: 'inactive', enabled: 'disabled' }]),
    ]),
    runtime: { node: state.host.runtime?.node.version ?? null, openclaw: state.host.runtime?.openclaw?.version ?? null },
    ...(state.host.packages ? { packages: Object.fromEntries(state.host.packages.map((p) => [p, '2.6.2-5'])) } : {}),
    release,
    releases: ['r1'],
    lock: null,
    digestKey: key,
  };
}

/** The representative pull request against ec2, planned against a host running the base branch, with the gateway token rotated. */
export async function representativeReport(): Promise<{ report: PullRequestReport; plan: Plan; base: DesiredState; head: DesiredState }> {
  const { base: baseConfig, head: headConfig } = await representativeConfigs();
  const base = render(baseConfig, 'ec2', FIXED_CONTEXT);
  const head = render(headConfig, 'ec2', FIXED_CONTEXT);
  const before = summarize(baseConfig, 'ec2');
  const after = summarize(headConfig, 'ec2');
  const plan = diff({
    desired: head,
    facts: hostRunning(base, secretsWith(CANARY.before), before),
    summary: after,
    secrets: secretsWith(CANARY.after),
    // A label only: the plan is made from fixtures, and no host is reached.
    target: 'ubuntu@ec2-host',
    revision: 'abc123',
  });
  return {
    plan,
    base,
    head,
    report: {
      environment: 'ec2',
      baseRef: 'main',
      chain: { before: before.chain, after: after.chain },
      semantic: semanticDiff(before, after),
      files: compareRenders(base.files, head.files),
      plan: { state: 'planned', plan },
    },
  };
}
