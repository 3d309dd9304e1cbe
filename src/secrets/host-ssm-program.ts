/**
 * The program the host runs at activation for an environment whose secrets stay in AWS
 * (`secrets.source: host-ssm`): it reads its own parameters from Parameter Store with the
 * instance's role (the SDK's chain: the instance metadata service), fills the staged env files of
 * the release with them, and records in the release which parameter version each file holds. No
 * value is printed, logged or passed on a command line; a failure is one line per cause, naming
 * the parameter and AWS's reason, and exit 1 with nothing written but what the release owns.
 *
 * Shipped with each release as one bundled file (dist/host/ssm-env.mjs) run by the release's Node:
 *   node ssm-env.mjs <spec.json>
 */
import { createHash, createHmac } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { envWithValues } from '../render/envfile.js';
import type { HostSecretsSpec } from '../apply/host-secrets.js';

/** GetParameters takes at most 10 names per call (API reference, GetParameters: Names, 1 to 10 items). */
const BATCH = 10;

class ReadError extends Error {}

function writeAtomically(path: string, content: string, mode: number): void {
  const tmp = `${path}.clawops-tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

async function read(spec: HostSecretsSpec, names: string[]): Promise<Map<string, { value: string; version: number }>> {
  const client = new SSMClient({ region: spec.region, maxAttempts: 3 });
  const found = new Map<string, { value: string; version: number }>();
  const problems: string[] = [];
  try {
    for (let i = 0; i < names.length; i += BATCH) {
      const batch = names.slice(i, i + BATCH);
      try {
        const res = await client.send(new GetParametersCommand({ Names: batch, WithDecryption: true }));
        for (const p of res.Parameters ?? []) {
          if (p.Name && p.Value !== undefined && p.Version !== undefined) found.set(p.Name, { value: p.Value, version: p.Version });
        }
        for (const n of res.InvalidParameters ?? []) problems.push(`parameter ${n}: not found in Parameter Store (${spec.region})`);
      } catch (e) {
        const err = e as { name?: string; message?: string };
        problems.push(`parameter${batch.length > 1 ? 's' : ''} ${batch.join(', ')}: ${err.name ?? 'error'}: ${(err.message ?? String(e)).split('\n')[0]}`);
      }
    }
  } finally {
    client.destroy();
  }
  for (const [name, p] of found) {
    if (/[\n\r\0]/.test(p.value)) problems.push(`parameter ${name}: the value holds a line break or NUL (a trailing newline?), which an env file cannot carry`);
  }
  if (problems.length) throw new ReadError(problems.join('\n'));
  return found;
}

async function main(specPath: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as HostSecretsSpec;
  const prefix = spec.prefix.replace(/\/+$/, '');
  const param = (secret: string) => `${prefix}/${secret}`;
  const names = [...new Set(spec.files.flatMap((f) => Object.values(f.vars).map(param)))].sort();
  const found = await read(spec, names);
  const key = readFileSync(spec.digestKey, 'utf8').trim();
  const record = JSON.parse(readFileSync(spec.record, 'utf8')) as { files: Record<string, { digest: string; parameters?: Record<string, number> }> };
  for (const f of spec.files) {
    const content = envWithValues(f.vars, (secret) => found.get(param(secret))!.value);
    writeAtomically(f.staged, content, 0o600);
    const entry = record.files[f.path];
    if (!entry) throw new ReadError(`${f.path}: not in the release record`);
    entry.digest = `hmac:${createHmac('sha256', key).update(createHash('sha256').update(content).digest('hex')).digest('hex')}`;
    entry.parameters = Object.fromEntries(Object.values(f.vars).map((s) => [param(s), found.get(param(s))!.version]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  }
  writeAtomically(spec.record, `${JSON.stringify(record, null, 2)}\n`, 0o644);
  process.stdout.write(`read ${names.length} parameter(s) from Parameter Store into ${spec.files.length} env file(s)\n`);
}

main(process.argv[2] ?? '').catch((e: unknown) => {
  const lines = e instanceof ReadError ? e.message.split('\n') : [`reading secrets from Parameter Store: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`];
  for (const l of lines) process.stderr.write(`secrets failed: ${l}\n`);
  process.exit(1);
});
