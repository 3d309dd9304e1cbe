import * as z from 'zod';
import { HttpUrl, Port, SchemaRef, SecretName } from './common.js';

export const ProxyKind = z.enum(['gemini', 'mistral', 'kimi']);
export type ProxyKind = z.infer<typeof ProxyKind>;

export const ProviderApi = z
  .enum(['openai-completions', 'google-generative-ai'])
  .describe('The protocol the upstream speaks. OpenClaw itself always speaks openai-completions to a proxy.');

export const ModelSchema = z.strictObject({
  id: z.string().min(1).describe('Model id as the upstream names it; may contain "/" and ":".'),
  name: z.string().min(1).describe('Display name.'),
  contextWindow: z.int().positive().describe('Context window in tokens.'),
  maxTokens: z.int().positive().describe('Maximum output tokens.'),
});
export type Model = z.infer<typeof ModelSchema>;

export const ProviderSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    id: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a lower-case provider id, such as groq' })
      .describe('Provider id; must equal the file name.'),
    name: z.string().min(1).describe('Display name.'),
    api: ProviderApi,
    baseUrl: HttpUrl.describe('Upstream base URL.'),
    apiKeySecret: SecretName.describe('Secret that holds this provider\'s API key.'),
    tier: z.enum(['free', 'paid']),
    proxy: z
      .strictObject({ kind: ProxyKind, port: Port })
      .optional()
      .describe('A local compatibility proxy on 127.0.0.1 that OpenClaw reaches this provider through.'),
    models: z.array(ModelSchema).min(1, { error: 'expected at least one model' }),
  })
  .describe('One LLM provider of the deployment (config/providers/<id>.yaml).');
export type Provider = z.infer<typeof ProviderSchema>;
