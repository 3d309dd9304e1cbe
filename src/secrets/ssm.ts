/**
 * Secret values from AWS Systems Manager Parameter Store: one parameter per secret, named
 * `<prefix>/<SECRET_NAME>`, read with decryption (SecureString). Credentials, and an endpoint other
 * than AWS's, come from the SDK's own chain (AWS_* variables, profiles, the instance role, GitHub's
 * OIDC role), so nothing here takes a key.
 */
import { DescribeParametersCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';

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

/** DescribeParameters takes at most 50 values in a filter, and answers at most 50 a page. */
const DESCRIBE_BATCH = 50;

/**
 * The current version of each of `names` under `prefix`, from DescribeParameters: metadata only,
 * no value is asked for or returned, and no decryption. A name with no parameter is absent.
 */
export async function parameterVersions(opts: { region: string; prefix: string; names: readonly string[] }): Promise<Record<string, number>> {
  const prefix = opts.prefix.replace(/\/+$/, '');
  const client = new SSMClient({ region: opts.region, maxAttempts: 3 });
  const out: Record<string, number> = {};
  try {
    for (let i = 0; i < opts.names.length; i += DESCRIBE_BATCH) {
      const batch = opts.names.slice(i, i + DESCRIBE_BATCH);
      let token: string | undefined;
      do {
        let res;
        try {
          res = await client.send(
            new DescribeParametersCommand({
              ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: batch.map((n) => `${prefix}/${n}`) }],
              MaxResults: DESCRIBE_BATCH,
              ...(token ? { NextToken: token } : {}),
            }),
          );
        } catch (e) {
          const err = e as { name?: string; message?: string };
          throw new Error(`Parameter Store (${opts.region}, ${prefix}/): ${err.name ?? 'error'}: ${err.message ?? String(e)}`);
        }
        for (const p of res.Parameters ?? []) {
          if (p.Name?.startsWith(`${prefix}/`) && p.Version !== undefined) out[p.Name.slice(prefix.length + 1)] = p.Version;
        }
        token = res.NextToken;
      } while (token);
    }
  } finally {
    client.destroy();
  }
  return out;
}
