import * as z from 'zod';
import { SchemaRef } from './common.js';

export const ModelRef = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\/\S+$/, { error: 'expected provider/model, such as groq/llama-3.3-70b-versatile' })
  .describe('provider/model; the model part may itself contain "/" and ":".');

export const FallbackChainSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    chain: z.array(ModelRef).min(1, { error: 'expected at least one model in the chain' }),
  })
  .describe('The model fallback chain (config/fallback-chain.yaml); the first entry is the primary.');
export type FallbackChain = z.infer<typeof FallbackChainSchema>;
