import type { Deployment } from '../schema/deployment.js';
import type { Environment } from '../schema/environment.js';
import type { Model, Provider } from '../schema/provider.js';
import type { Supabase } from '../schema/supabase.js';
import type { FunctionSettings } from './function-settings.js';

/** The whole deployment, validated: what render() turns into each environment's desired state. */
export interface Config {
  deployment: Deployment;
  /** Sorted by id. */
  providers: Provider[];
  /** provider/model references, primary first. */
  chain: string[];
  /** Declared secret names with their descriptions; names only, never values. */
  secrets: Record<string, { description: string }>;
  /** Sorted by name. */
  environments: Environment[];
  /** The edge-function bridge, when the deployment has one. */
  supabase?: SupabaseConfig;
}

/** config/supabase.yaml, its function completed by its settings in supabase/config.toml. */
export type SupabaseConfig = Omit<Supabase, 'function'> & { function: Supabase['function'] & FunctionSettings };

export interface ResolvedModel {
  provider: Provider;
  model: Model;
}

/**
 * Splits provider/model at the first "/": provider ids never contain one, model ids may
 * (openrouter/meta-llama/llama-3.3-70b-instruct:free).
 */
export function splitModelRef(ref: string): { providerId: string; modelId: string } {
  const i = ref.indexOf('/');
  return { providerId: ref.slice(0, i), modelId: ref.slice(i + 1) };
}

export function resolveModel(providers: readonly Provider[], ref: string): ResolvedModel | undefined {
  const { providerId, modelId } = splitModelRef(ref);
  const provider = providers.find((p) => p.id === providerId);
  const model = provider?.models.find((m) => m.id === modelId);
  return provider && model ? { provider, model } : undefined;
}

export function findEnvironment(config: Config, name: string): Environment | undefined {
  return config.environments.find((e) => e.name === name);
}
