/**
 * Secret values from AWS Systems Manager Parameter Store: one parameter per secret, named
 * `<prefix>/<SECRET_NAME>`, read with decryption (SecureString). Credentials, and an endpoint other
 * than AWS's, come from the SDK's own chain (AWS_* variables, profiles, the instance role, GitHub's
 * OIDC role), so nothing here takes a key.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';

/** GetParameters takes at most 10 names per call. */
const BATCH = 10;

/**
 * The values of `names` under `prefix`; a name with no parameter is absent from the result. Errors
 * name the region, the prefix and AWS's reason, never a value.
 */
export async function readParameters(opts: { region: string; prefix: string; names: readonly string[] }): Promise<Record<string, string>> {
  const prefix = opts.prefix.replace(/\/+$/, '');
  const client = new SSMClient({ region: opts.region, maxAttempts: 3 });
  const out: Record<string, string> = {};
  try {
    for (let i = 0; i < opts.names.length; i += BATCH) {
      const batch = opts.names.slice(i, i + BATCH);
      let res;
      try {
        res = await client.send(new GetParametersCommand({ Names: batch.map((n) => `${prefix}/${n}`), WithDecryption: true }));
      } catch (e) {
        const err = e as { name?: string; message?: string };
        throw new Error(`Parameter Store (${opts.region}, ${prefix}/): ${err.name ?? 'error'}: ${err.message ?? String(e)}`);
      }
      for (const p of res.Parameters ?? []) {
        if (p.Name?.startsWith(`${prefix}/`) && p.Value !== undefined) out[p.Name.slice(prefix.length + 1)] = p.Value;
      }
    }
  } finally {
    client.destroy();
  }
  return out;
}
