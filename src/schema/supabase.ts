import * as z from 'zod';
import { HttpUrl, SchemaRef, SecretName } from './common.js';

/** The Supabase edge function that fronts the gateway for web apps (config/supabase.yaml). */
export const SupabaseSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    projectRef: z
      .string()
      .regex(/^[a-z]{20}$/, { error: 'expected a Supabase project ref: 20 lower-case letters' })
      .describe('The Supabase project the function is deployed to.'),
    function: z.strictObject({
      name: z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a function slug such as openclaw-bridge' }),
      source: z
        .string()
        .regex(/^[a-z0-9_./-]+$/, { error: 'expected a folder in this repository' })
        .describe('The function\'s source folder, such as supabase/functions/openclaw-bridge. Its settings (verify_jwt, entrypoint) are in supabase/config.toml, where the Supabase CLI reads them.'),
    }),
    environment: z.string().min(1).describe('The environment whose gateway the function fronts (its gateway.publicUrl).'),
    agent: z
      .string()
      .regex(/^[a-z0-9_][a-z0-9_-]{0,63}$/, { error: 'expected a lower-case agent id' })
      .default('main')
      .describe('The agent web users talk to (config/openclaw.json agents.entries); set as the function\'s OPENCLAW_BRIDGE_AGENT_ID.'),
    cors: z.strictObject({
      origins: z.array(HttpUrl).describe('Browser origins allowed to call the function; others get no CORS headers.'),
    }),
    timeouts: z.strictObject({
      requestSeconds: z
        .int()
        .min(1)
        .max(145, { error: 'expected at most 145 s: the edge runtime stops a request at 150 s' })
        .describe('How long one request may take end to end.'),
    }),
    secrets: z.strictObject({
      gatewayToken: SecretName.describe('The gateway token the function presents.'),
      deviceKey: SecretName.describe('The function\'s Ed25519 device identity (PKCS#8 PEM).'),
      accessToken: SecretName.describe('Supabase Management API token used to deploy.'),
    }),
  })
  .describe('The Supabase edge-function bridge between web apps and the gateway.');
export type Supabase = z.infer<typeof SupabaseSchema>;
