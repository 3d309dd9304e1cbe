/**
 * A stand-in for the Supabase Management API, as much as clawops uses, on an ephemeral loopback
 * port (node:http): the real paths, a bearer access token, the deploy request's multipart body
 * parsed part by part from the raw bytes, functions versioned per deploy, and secrets stored by
 * value but listed, as Supabase lists them, by name and hex SHA-256 digest only.
 *
 *   POST  /v1/projects/{ref}/functions/deploy?slug=…   multipart: metadata + file parts → 201
 *   GET   /v1/projects/{ref}/functions/{slug}           200 | 404
 *   PATCH /v1/projects/{ref}/functions/{slug}           {name?, verify_jwt?} → 200 (the dashboard's toggle)
 *   POST  /v1/projects/{ref}/secrets                    [{name, value}] → 201
 *   GET   /v1/projects/{ref}/secrets                    [{name, value: sha256(value)}]
 *   DELETE /v1/projects/{ref}/secrets                   ["NAME", …] → 200 (bulk delete; an unknown name is no error)
 *
 * A function is reported with the fields and types of the API's FunctionSlugResponse and
 * DeployFunctionResponse (the Management API's OpenAPI document, as the Supabase CLI vendors it:
 * github.com/supabase/cli, packages/api/src/generated/openapi.json): id, slug, name, status
 * (ACTIVE | REMOVED | THROTTLED), version (a new one per deploy), created_at and updated_at
 * (milliseconds since the epoch, integers), verify_jwt, import_map (a boolean), entrypoint_path,
 * import_map_path (only when one was given) and ezbr_sha256, the hash of the bundle Supabase built.
 * The real service builds that bundle itself, so its hash cannot be computed by a client; the
 * stand-in hashes the uploaded files instead, which changes when they do, as the real one does.
 * The real service may also report entrypoint_path in its own form (a CLI deploy reads back as
 * file:///…/supabase/functions/<slug>/index.ts); the stand-in repeats what was sent, and clawops
 * compares it only with what it read back after its own deploy. Whether a PATCH of verify_jwt alone
 * makes a new version is not documented; here it does not, so a plan must notice verify_jwt itself.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  /** Every header line of the part, lower-cased names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface DeployRecord {
  slug: string;
  contentType: string;
  parts: MultipartPart[];
  metadata: Record<string, unknown>;
}

export interface StoredFunction {
  id: string;
  slug: string;
  name: string;
  version: number;
  status: 'ACTIVE' | 'REMOVED' | 'THROTTLED';
  verify_jwt: boolean;
  import_map: boolean;
  import_map_path?: string;
  entrypoint_path: string;
  created_at: number;
  updated_at: number;
  ezbr_sha256: string;
  files: Record<string, string>;
}

export interface SupabaseStandin {
  url: string;
  accessToken: string;
  projectRef: string;
  deploys: DeployRecord[];
  functions: Map<string, StoredFunction>;
  /** Secret values as stored: only the test reads them. */
  secrets: Map<string, string>;
  requests: { method: string; path: string; status: number }[];
  /** The next matching request (method and path prefix) gets this answer instead. */
  failNext(method: string, pathPrefix: string, status: number, body: unknown): void;
  close(): Promise<void>;
}

/** Splits a multipart/form-data body at its boundary and parses each part's headers. */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const parts: MultipartPart[] = [];
  let at = body.indexOf(delimiter);
  if (at !== 0) throw new Error('the body does not start with the boundary');
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() !== '\r\n') throw new Error('a boundary is not followed by CRLF');
    const next = body.indexOf(delimiter, start);
    if (next === -1) throw new Error('an unterminated part');
    const part = body.subarray(start + 2, next - 2); // the CRLF before the next delimiter belongs to it
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) throw new Error('a part without a header block');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, split).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const disposition = headers['content-disposition'] ?? '';
    if (!/^form-data;/.test(disposition)) throw new Error(`a part's Content-Disposition is ${disposition}`);
    const name = /;\s*name="([^"]*)"/.exec(disposition)?.[1];
    if (name === undefined) throw new Error('a part without a name');
    const filename = /;\s*filename="([^"]*)"/.exec(disposition)?.[1];
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), ...(headers['content-type'] ? { contentType: headers['content-type'] } : {}), headers, body: part.subarray(split + 4) });
    at = next;
  }
  return parts;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export async function startSupabaseStandin(opts: { accessToken: string; projectRef: string }): Promise<SupabaseStandin> {
  const functions = new Map<string, StoredFunction>();
  const secrets = new Map<string, string>();
  const deploys: DeployRecord[] = [];
  const requests: SupabaseStandin['requests'] = [];
  const failures: { method: string; prefix: string; status: number; body: unknown }[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const path = url.pathname;
      const send = (status: number, value: unknown) => {
        requests.push({ method: req.method ?? '', path, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(value === undefined ? '' : JSON.stringify(value));
      };
      const body = Buffer.concat(chunks);
      if (req.headers.authorization !== `Bearer ${opts.accessToken}`) return send(401, { message: 'Unauthorized' });
      const failure = failures.findIndex((f) => f.method === req.method && path.startsWith(f.prefix));
      if (failure !== -1) {
        const f = failures.splice(failure, 1)[0]!;
        return send(f.status, f.body);
      }
      const m = /^\/v1\/projects\/([^/]+)(\/.*)$/.exec(path);
      if (!m || m[1] !== opts.projectRef) return send(404, { message: 'Project not found' });
      const rest = m[2]!;

      if (req.method === 'POST' && rest === '/functions/deploy') {
        const slug = url.searchParams.get('slug');
        if (!slug || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(slug)) return send(400, { message: 'slug is required' });
        const contentType = req.headers['content-type'] ?? '';
        if (!contentType.startsWith('multipart/form-data')) return send(415, { message: 'expected multipart/form-data' });
        let parts: MultipartPart[];
        try {
          parts = parseMultipart(body, contentType);
        } catch (err) {
          return send(400, { message: `malformed multipart body: ${(err as Error).message}` });
        }
        const metaParts = parts.filter((p) => p.name === 'metadata');
        if (metaParts.length !== 1) return send(400, { message: 'exactly one metadata part is required' });
        let metadata: Record<string, unknown>;
        try {
          metadata = JSON.parse(metaParts[0]!.body.toString('utf8')) as Record<string, unknown>;
        } catch {
          return send(400, { message: 'metadata is not JSON' });
        }
        deploys.push({ slug, contentType, parts, metadata });
        const files = Object.fromEntries(parts.filter((p) => p.name === 'file' && p.filename).map((p) => [p.filename!, p.body.toString('utf8')]));
        const entry = metadata.entrypoint_path;
        if (typeof entry !== 'string' || !(entry in files)) return send(400, { message: 'entrypoint_path must name one of the uploaded files' });
        const now = Date.now();
        const was = functions.get(slug);
        const fn: StoredFunction = {
          id: was?.id ?? randomUUID(),
          slug,
          name: typeof metadata.name === 'string' ? metadata.name : slug,
          version: (was?.version ?? 0) + 1,
          status: 'ACTIVE',
          verify_jwt: metadata.verify_jwt !== false,
          import_map: typeof metadata.import_map_path === 'string',
          ...(typeof metadata.import_map_path === 'string' ? { import_map_path: metadata.import_map_path } : {}),
          entrypoint_path: entry,
          created_at: was?.created_at ?? now,
          updated_at: now,
          ezbr_sha256: sha256(Object.keys(files).sort().map((k) => `${k}\0${files[k]}`).join('\0')),
          files,
        };
        functions.set(slug, fn);
        const { files: _files, ...shown } = fn;
        return send(201, shown);
      }
      const fnPath = /^\/functions\/([^/]+)$/.exec(rest);
      if (req.method === 'PATCH' && fnPath) {
        const fn = functions.get(decodeURIComponent(fnPath[1]!));
        if (!fn) return send(404, { message: 'Function not found' });
        let change: unknown;
        try {
          change = JSON.parse(body.toString('utf8'));
        } catch {
          return send(400, { message: 'expected a JSON body' });
        }
        const c = change as Record<string, unknown>;
        if (typeof c !== 'object' || c === null || ('verify_jwt' in c && typeof c.verify_jwt !== 'boolean') || ('name' in c && typeof c.name !== 'string')) {
          return send(400, { message: 'expected {name?: string, verify_jwt?: boolean}' });
        }
        if (typeof c.verify_jwt === 'boolean') fn.verify_jwt = c.verify_jwt;
        if (typeof c.name === 'string') fn.name = c.name;
        fn.updated_at = Date.now();
        const { files: _files, ...shown } = fn;
        return send(200, shown);
      }
      if (req.method === 'GET' && fnPath) {
        const fn = functions.get(decodeURIComponent(fnPath[1]!));
        if (!fn) return send(404, { message: 'Function not found' });
        const { files: _files, ...shown } = fn;
        return send(200, shown);
      }
      if (rest === '/secrets' && req.method === 'POST') {
        let list: unknown;
        try {
          list = JSON.parse(body.toString('utf8'));
        } catch {
          return send(400, { message: 'expected a JSON array' });
        }
        if (!Array.isArray(list) || !list.every((s) => typeof s?.name === 'string' && typeof s?.value === 'string')) return send(400, { message: 'expected [{name, value}]' });
        for (const s of list as { name: string; value: string }[]) {
          if (s.name.startsWith('SUPABASE_')) return send(400, { message: `Env var name cannot start with SUPABASE_: ${s.name}` });
        }
        for (const s of list as { name: string; value: string }[]) secrets.set(s.name, s.value);
        return send(201, undefined);
      }
      if (rest === '/secrets' && req.method === 'DELETE') {
        let names: unknown;
        try {
          names = JSON.parse(body.toString('utf8'));
        } catch {
          return send(400, { message: 'expected a JSON array' });
        }
        if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return send(400, { message: 'expected an array of secret names' });
        for (const n of names as string[]) secrets.delete(n);
        return send(200, undefined);
      }
      if (rest === '/secrets' && req.method === 'GET') {
        return send(200, [...secrets].map(([name, value]) => ({ name, value: sha256(value) })));
      }
      send(404, { message: `no ${req.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accessToken: opts.accessToken,
    projectRef: opts.projectRef,
    deploys,
    functions,
    secrets,
    requests,
    failNext: (method, prefix, status, body) => void failures.push({ method, prefix, status, body }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
