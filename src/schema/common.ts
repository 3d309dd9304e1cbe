import * as z from 'zod';

// Each schema parses a handful of small files once per process: zod's generated fast paths cost
// more to compile than they save.
z.config({ jitless: true });

/** Secret names are environment-variable names: they travel as such into env files. */
export const SecretName = z
  .string()
  .regex(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, { error: 'expected an UPPER_SNAKE secret name, such as GROQ_API_KEY' })
  .describe('Name of a secret declared in config/secrets.yaml (UPPER_SNAKE).');

export const Port = z
  .int({ error: 'expected a whole port number' })
  .min(1024, { error: 'expected a port from 1024 to 65535' })
  .max(65535, { error: 'expected a port from 1024 to 65535' });

export const HttpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { error: 'expected an http(s) URL' })
  .refine((s) => !s.endsWith('/'), { error: 'expected a URL without a trailing slash' });

/** Every config file may name its JSON Schema so editors complete and check it. */
export const SchemaRef = z.string().describe('Path or URL of this file\'s JSON Schema, for editors.');

export const AbsolutePath = z
  .string()
  .regex(/^(\/|~\/|~$)/, { error: 'expected an absolute path (or one starting with ~/)' });
