/**
 * The Supabase adapter: the Management API (https://api.supabase.com) over global fetch, with a
 * personal or CI access token. Paths and fields as the Supabase CLI and its Terraform provider use
 * them:
 *
 * - `POST /v1/projects/{ref}/functions/deploy?slug={slug}`: multipart/form-data, one `metadata`
 *   part (JSON: entrypoint_path, name, verify_jwt, import_map_path) and one `file` part per
 *   source file, named by its path; 201 with the function (version, ezbr_sha256, …).
 * - `GET /v1/projects/{ref}/functions/{slug}`: the function, or 404.
 * - `POST /v1/projects/{ref}/secrets`: `[{name, value}]`.
 * - `GET /v1/projects/{ref}/secrets`: `[{name, value}]` where value is the hex SHA-256 of the
 *   secret's value, never the value.
 * - `DELETE /v1/projects/{ref}/secrets`: a JSON array of names (the API's "bulk delete secrets",
 *   as `supabase secrets unset` calls it).
 *
 * Every failure leaves as a SupabaseError with the status, method and path; no message carries
 * the token or a secret value. The adapter logs nothing.
 */
import {
  SupabaseError,
  type DeployedFunction,
  type DeployFunctionInput,
  type FunctionInfo,
  type SecretDigest,
  type SupabasePort,
} from './port.js';

export interface ManagementApiOptions {
  accessToken: string;
  /** https://api.supabase.com unless a test points it at a stand-in. */
  baseUrl?: string;
  /** Per call. Default 60 s (a deploy bundles on Supabase's side). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ManagementApiSupabase implements SupabasePort {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: ManagementApiOptions) {
    this.baseUrl = (opts.baseUrl ?? 'https://api.supabase.com').replace(/\/+$/, '');
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  async deployFunction(input: DeployFunctionInput): Promise<DeployedFunction> {
    if (!input.files.some((f) => f.name === input.entrypoint)) {
      throw new SupabaseError(0, 'POST', this.projectPath(input.projectRef, '/functions/deploy'), `the entrypoint ${input.entrypoint} is not among the files to upload`);
    }
    const form = new FormData();
    form.append(
      'metadata',
      JSON.stringify({
        entrypoint_path: input.entrypoint,
        name: input.name ?? input.slug,
        verify_jwt: input.verifyJwt,
        ...(input.importMapPath ? { import_map_path: input.importMapPath } : {}),
      }),
    );
    for (const f of input.files) {
      const type = /\.json$/.test(f.name) ? 'application/json' : /\.m?js$/.test(f.name) ? 'application/javascript' : 'application/typescript';
      form.append('file', new Blob([f.content], { type }), f.name);
    }
    const body = await this.call('POST', this.projectPath(input.projectRef, '/functions/deploy'), { query: { slug: input.slug }, body: form });
    if (!isRecord(body) || typeof body.version !== 'number') throw new SupabaseError(201, 'POST', this.projectPath(input.projectRef, '/functions/deploy'), 'the answer has no function version');
    return {
      id: String(body.id ?? ''),
      slug: String(body.slug ?? input.slug),
      version: body.version,
      status: String(body.status ?? ''),
      ...(typeof body.ezbr_sha256 === 'string' ? { bundleHash: body.ezbr_sha256 } : {}),
    };
  }

  async getFunction(projectRef: string, slug: string): Promise<FunctionInfo | null> {
    const path = this.projectPath(projectRef, `/functions/${encodeURIComponent(slug)}`);
    const body = await this.call('GET', path, { notFound: null });
    if (body === null) return null;
    if (!isRecord(body) || typeof body.version !== 'number') throw new SupabaseError(200, 'GET', path, 'the answer is not a function');
    const time = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN);
    return {
      id: String(body.id ?? ''),
      slug: String(body.slug ?? slug),
      version: body.version,
      status: String(body.status ?? ''),
      createdAt: time(body.created_at),
      updatedAt: time(body.updated_at),
      verifyJwt: body.verify_jwt === true,
      ...(typeof body.entrypoint_path === 'string' ? { entrypointPath: body.entrypoint_path } : {}),
      ...(typeof body.ezbr_sha256 === 'string' ? { bundleHash: body.ezbr_sha256 } : {}),
    };
  }

  async setSecrets(projectRef: string, secrets: Record<string, string>): Promise<void> {
    const entries = Object.entries(secrets);
    if (entries.length === 0) return;
    await this.call('POST', this.projectPath(projectRef, '/secrets'), {
      json: entries.map(([name, value]) => ({ name, value })),
      hide: entries.map(([, value]) => value),
    });
  }

  async deleteSecrets(projectRef: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.call('DELETE', this.projectPath(projectRef, '/secrets'), { json: [...names] });
  }

  async listSecrets(projectRef: string): Promise<SecretDigest[]> {
    const path = this.projectPath(projectRef, '/secrets');
    const body = await this.call('GET', path, {});
    if (!Array.isArray(body)) throw new SupabaseError(200, 'GET', path, 'the answer is not a list of secrets');
    return body.filter(isRecord).map((s) => ({ name: String(s.name ?? ''), digest: String(s.value ?? '') }));
  }

  private projectPath(ref: string, rest: string): string {
    return `/v1/projects/${encodeURIComponent(ref)}${rest}`;
  }

  /**
   * One call. `hide` lists values (secret values being set) that must not reach an error message
   * even if the server repeats them; the token is always among them.
   */
  private async call(
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: FormData; json?: unknown; notFound?: null; hide?: string[] },
  ): Promise<unknown> {
    const hide = [this.opts.accessToken, ...(opts.hide ?? [])].filter((s) => s.length >= 4);
    const clean = (text: string) => hide.reduce((t, s) => t.split(s).join('***'), text);
    const url = `${this.baseUrl}${path}${opts.query ? `?${new URLSearchParams(opts.query)}` : ''}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.accessToken}`, accept: 'application/json', 'user-agent': 'clawops' };
    let body: FormData | string | undefined = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${(this.opts.timeoutMs ?? 60_000) / 1000} s` : (e.cause?.code ?? clean(e.message));
      throw new SupabaseError(0, method, path, `the request failed: ${why}`, { message: why });
    }
    const text = await res.text().catch(() => '');
    if (res.status === 404 && opts.notFound === null) return null;
    if (!res.ok) {
      let said = res.statusText || 'request failed';
      try {
        const j: unknown = JSON.parse(text);
        if (isRecord(j)) said = String(j.message ?? j.msg ?? j.error ?? said);
      } catch {
        if (text.trim()) said = text.trim().slice(0, 300);
      }
      said = clean(said);
      throw new SupabaseError(res.status, method, path, said, { message: said });
    }
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new SupabaseError(res.status, method, path, 'the answer is not JSON');
    }
  }
}
