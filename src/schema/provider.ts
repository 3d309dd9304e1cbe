import * as z from 'zod';
import { HttpUrl, Port, SchemaRef, SecretName } from './common.js';

export const ProxyKind = z.enum(['gemini', 'mistral', 'kimi']);
export type ProxyKind = z.infer<typeof ProxyKind>;

export const ProviderApi = z
  .enum(['openai-completions', 'google-generative-ai'])
  .describe('The protocol the upstream speaks. OpenClaw itself always speaks openai-completions to a proxy.');

const SamplingRule = z.union(
  [
    z.number().describe('Fixed: the proxy sends this value whatever the client asked.'),
    z
      .strictObject({ thinking: z.number(), nonThinking: z.number() })
      .describe('Fixed per mode: the value with thinking on and with it off. Also says the model thinks by default and a request may turn it off.'),
    z.strictObject({ min: z.number(), max: z.number() }).describe("Allowed range: the client's value is clamped into it."),
  ],
  { error: 'expected a number, {thinking, nonThinking} or {min, max}' },
);

export const SamplingSchema = z
  .strictObject({
    temperature: SamplingRule.optional(),
    top_p: SamplingRule.optional(),
    n: SamplingRule.optional(),
    presence_penalty: SamplingRule.optional(),
    frequency_penalty: SamplingRule.optional(),
  })
  .superRefine((sampling, ctx) => {
    for (const [param, rule] of Object.entries(sampling)) {
      if (typeof rule === 'object' && 'min' in rule && rule.min > rule.max) {
        ctx.addIssue({ code: 'custom', path: [param, 'min'], message: `expected at most max (${rule.max})` });
      }
    }
  })
  .describe("The provider's fixed or allowed sampling values for this model; applied by the model's proxy.");
export type Sampling = z.infer<typeof SamplingSchema>;

export const ModelSchema = z.strictObject({
  id: z.string().min(1).describe('Model id as the upstream names it; may contain "/" and ":".'),
  name: z.string().min(1).describe('Display name.'),
  contextWindow: z.int().positive().describe('Context window in tokens.'),
  maxTokens: z.int().positive().describe('Maximum output tokens.'),
  parametersB: z
    .number()
    .positive()
    .optional()
    .describe('Billions of parameters (all experts of a mixture), where published. At 300 or fewer the model is small: no agent gets web tools while it answers.'),
  sampling: SamplingSchema.optional(),
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
