import type { Config } from '../config/model.js';
import { openclawBaseUrl } from '../render/openclaw.js';

/**
 * What a reviewer cares about in a config change, reduced to comparable data. Recorded with every
 * release on the host, so a plan can say what changes in these terms too.
 */
export interface ConfigSummary {
  chain: string[];
  providers: Record<string, { baseUrl: string; upstream?: string; models: string[] }>;
  agents: Record<string, { model?: string; subagents?: string[] }>;
}

export function summarize(config: Config, envName: string): ConfigSummary {
  const env = config.environments.find((e) => e.name === envName)!;
  return {
    chain: [...config.chain],
    providers: Object.fromEntries(
      config.providers.map((p) => [
        p.id,
        {
          baseUrl: openclawBaseUrl(p, env),
          ...(p.proxy ? { upstream: env.providers?.[p.id]?.upstream ?? p.baseUrl } : {}),
          models: p.models.map((m) => m.id),
        },
      ]),
    ),
    agents: Object.fromEntries(
      Object.entries(config.deployment.agents.entries).map(([id, a]) => [
        id,
        { ...(a.model ? { model: a.model } : {}), ...(a.subagents ? { subagents: [...a.subagents.allowAgents] } : {}) },
      ]),
    ),
  };
}

export interface SemanticChange {
  kind:
    | 'primary-changed'
    | 'chain-step-added'
    | 'chain-step-removed'
    | 'chain-step-moved'
    | 'provider-added'
    | 'provider-removed'
    | 'provider-url-changed'
    | 'model-added'
    | 'model-removed'
    | 'agent-added'
    | 'agent-removed'
    | 'agent-model-changed'
    | 'agent-subagents-changed';
  text: string;
  /** For chain changes: the provider/model step concerned, so a diagram can mark it. */
  ref?: string;
}

/** The changes between two summaries, in words: chain first, then providers, then agents. */
export function semanticDiff(before: ConfigSummary | null, after: ConfigSummary): SemanticChange[] {
  if (!before) return [];
  const out: SemanticChange[] = [];
  const [b0] = before.chain;
  const [a0] = after.chain;
  if (b0 !== a0) out.push({ kind: 'primary-changed', text: `primary model: ${b0 ?? '(none)'} → ${a0}` });
  const common = after.chain.filter((r) => before.chain.includes(r));
  const commonBefore = before.chain.filter((r) => after.chain.includes(r));
  before.chain.forEach((ref, i) => {
    if (!after.chain.includes(ref)) out.push({ kind: 'chain-step-removed', text: `chain step ${i + 1} removed: ${ref}`, ref });
  });
  after.chain.forEach((ref, i) => {
    if (!before.chain.includes(ref)) out.push({ kind: 'chain-step-added', text: `chain step ${i + 1} added: ${ref}`, ref });
  });
  // A step "moved" when its place among the steps both chains share changed: an insertion above it
  // alone does not count as moving it.
  common.forEach((ref, i) => {
    const j = commonBefore.indexOf(ref);
    if (j !== i) {
      out.push({
        kind: 'chain-step-moved',
        text: `chain step moved: ${ref} from step ${before.chain.indexOf(ref) + 1} to step ${after.chain.indexOf(ref) + 1}`,
        ref,
      });
    }
  });

  for (const id of Object.keys(before.providers)) if (!after.providers[id]) out.push({ kind: 'provider-removed', text: `provider removed: ${id}` });
  for (const [id, p] of Object.entries(after.providers)) {
    const old = before.providers[id];
    if (!old) {
      out.push({ kind: 'provider-added', text: `provider added: ${id} (${p.models.length} model${p.models.length === 1 ? '' : 's'})` });
      continue;
    }
    if (old.baseUrl !== p.baseUrl) out.push({ kind: 'provider-url-changed', text: `${id} base URL: ${old.baseUrl} → ${p.baseUrl}` });
    if (old.upstream !== p.upstream) out.push({ kind: 'provider-url-changed', text: `${id} upstream (behind its proxy): ${old.upstream ?? '(none)'} → ${p.upstream ?? '(none)'}` });
    for (const m of p.models) if (!old.models.includes(m)) out.push({ kind: 'model-added', text: `model added: ${id}/${m}` });
    for (const m of old.models) if (!p.models.includes(m)) out.push({ kind: 'model-removed', text: `model removed: ${id}/${m}` });
  }

  for (const id of Object.keys(before.agents)) if (!after.agents[id]) out.push({ kind: 'agent-removed', text: `agent removed: ${id}` });
  for (const [id, a] of Object.entries(after.agents)) {
    const old = before.agents[id];
    if (!old) {
      out.push({ kind: 'agent-added', text: `agent added: ${id}` });
      continue;
    }
    if (old.model !== a.model) {
      out.push({ kind: 'agent-model-changed', text: `agent ${id} model: ${old.model ?? '(chain primary)'} → ${a.model ?? '(chain primary)'}` });
    }
    if ((old.subagents ?? []).join(',') !== (a.subagents ?? []).join(',')) {
      out.push({ kind: 'agent-subagents-changed', text: `agent ${id} may spawn: ${(old.subagents ?? []).join(', ') || '(none)'} → ${(a.subagents ?? []).join(', ') || '(none)'}` });
    }
  }
  return out;
}
