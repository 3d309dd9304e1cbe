import type { z } from 'zod';
import { FallbackChainSchema } from './chain.js';
import { DeploymentSchema } from './deployment.js';
import { EnvironmentSchema } from './environment.js';
import { ProviderSchema } from './provider.js';
import { SecretsSchema } from './secrets.js';
import { SupabaseSchema } from './supabase.js';

/** Which schema governs which config file; also the list of generated schema/*.schema.json files. */
export interface SchemaEntry {
  /** schema/<name>.schema.json */
  name: string;
  schema: z.ZodType;
  matches(file: string): boolean;
}

export const schemaCatalog: readonly SchemaEntry[] = [
  { name: 'openclaw', schema: DeploymentSchema, matches: (f) => f === 'config/openclaw.json' },
  { name: 'fallback-chain', schema: FallbackChainSchema, matches: (f) => f === 'config/fallback-chain.yaml' },
  { name: 'secrets', schema: SecretsSchema, matches: (f) => f === 'config/secrets.yaml' },
  { name: 'supabase', schema: SupabaseSchema, matches: (f) => f === 'config/supabase.yaml' },
  { name: 'provider', schema: ProviderSchema, matches: (f) => /^config\/providers\/[^/]+\.yaml$/.test(f) },
  { name: 'environment', schema: EnvironmentSchema, matches: (f) => /^config\/environments\/[^/]+\.yaml$/.test(f) },
];

export const requiredFiles = ['config/openclaw.json', 'config/fallback-chain.yaml', 'config/secrets.yaml'] as const;
