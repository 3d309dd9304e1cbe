import * as z from 'zod';
import { Port, SchemaRef, SecretName } from './common.js';
import { ModelRef } from './chain.js';

const AgentId = z.string().regex(/^[a-z0-9_][a-z0-9_-]{0,63}$/, { error: 'expected a lower-case agent id' });

export const AgentSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1).optional(),
  model: ModelRef.optional().describe('This agent\'s primary model; it falls back along the chain. Omit to use the chain\'s primary.'),
  subagents: z
    .strictObject({
      allowAgents: z.array(AgentId).min(1).describe('Agents this agent may spawn as subagents.'),
    })
    .optional(),
  access: z
    .enum(['public', 'operator'])
    .default('public')
    .describe(
      'public: web users may reach it (through the bridge, or as a subagent of an agent they reach): no host exec, files, elevated or control-plane tools, and no web tools on small models. operator: OpenClaw\'s own tool defaults, for an agent no web user can reach.',
    ),
});
export type Agent = z.infer<typeof AgentSchema>;

/**
 * The part of OpenClaw's own settings this deployment pins, in OpenClaw's vocabulary (gateway,
 * agents, plugins). Providers, the chain and per-environment values (bind mode, paths) come from
 * the other config files; secrets are referenced by name.
 */
export const DeploymentSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    gateway: z.strictObject({
      port: Port.describe('The gateway\'s port.'),
      auth: z.strictObject({
        mode: z.literal('token'),
        token: z.strictObject({ secret: SecretName }).describe('The secret holding the gateway token.'),
      }),
      reload: z
        .strictObject({ mode: z.enum(['hybrid', 'off']) })
        .describe('hybrid applies hot-safe edits of openclaw.json without a restart.'),
    }),
    agents: z.strictObject({
      systemAgent: AgentId.describe('The agent that owns heartbeats and bare CLI operations.'),
      entries: z.record(AgentId, AgentSchema),
    }),
    plugins: z
      .strictObject({
        enabled: z.boolean(),
      })
      .describe('OpenClaw plugin loading. This deployment uses custom providers only; see README.'),
    smoke: z
      .strictObject({
        canaryAgent: AgentId.describe(
          'An agent whose own model always fails (a provider with a deliberately invalid key): the smoke chats with it and passes when the chain falls back.',
        ),
      })
      .optional()
      .describe('clawops smoke settings; not part of OpenClaw\'s config.'),
  })
  .describe('OpenClaw settings pinned by this deployment (config/openclaw.json).');
export type Deployment = z.infer<typeof DeploymentSchema>;
