import * as z from 'zod';
import { SchemaRef, SecretName } from './common.js';

export const SecretsSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    secrets: z.record(
      SecretName,
      z.strictObject({
        description: z.string().min(1),
      }),
    ),
  })
  .describe('Every secret the deployment uses (config/secrets.yaml): names only, never values.');
export type SecretsFile = z.infer<typeof SecretsSchema>;
