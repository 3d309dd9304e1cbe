/**
 * A stand-in for the npm registry over real HTTP, serving one package's real tarball: the version's
 * metadata at GET /<name>/<version> (the registry's "abbreviated version" document: name, version,
 * dist.tarball, dist.integrity as an SRI sha512, dist.shasum) and the tarball at
 * /<name>/-/<name>-<version>.tgz, as registry.npmjs.org lays them out; any other path is 404 with
 * the registry's {"error":"Not found"}. https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md
 *
 * `tamper()` makes it serve a tarball that differs from the one its metadata describes, as a
 * compromised mirror or a cut download would.
 *
 * With `files`, it also serves every tarball under that folder at the same path the registry has
 * it at (<name>/-/<file>.tgz, as scripts/mirror-openclaw.ts lays them out); `tamperFile(path)`
 * flips a byte of one of them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface RegistryStandin {
  url: string;
  integrity: string;
  requests: { path: string; from: string }[];
  tamper(on?: boolean): void;
  /** Serves the tarball at this registry path with one byte changed, or again as it is (`on` false). */
  tamperFile(path: string, on?: boolean): void;
  close(): Promise<void>;
}

export async function startRegistryStandin(opts: { host?: string; name: string; version: string; tarball: Buffer; files?: string }): Promise<RegistryStandin> {
  const host = opts.host ?? '127.0.0.1';
  const requests: RegistryStandin['requests'] = [];
  const integrity = `sha512-${createHash('sha512').update(opts.tarball).digest('base64')}`;
  let tampered = false;
  const tamperedFiles = new Set<string>();
  let url = '';
  const tgzPath = `/${opts.name}/-/${opts.name}-${opts.version}.tgz`;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, from: req.socket.remoteAddress ?? '' });
    req.resume();
    if (req.method === 'GET' && path === `/${opts.name}/${opts.version}`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ name: opts.name, version: opts.version, dist: { tarball: `${url}${tgzPath}`, integrity, shasum: createHash('sha1').update(opts.tarball).digest('hex') } }));
    }
    if (req.method === 'GET' && path === tgzPath) {
      const body = tampered ? Buffer.concat([opts.tarball.subarray(0, opts.tarball.length - 1), Buffer.from([opts.tarball.at(-1)! ^ 1])]) : opts.tarball;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      return res.end(body);
    }
    // Only <name>/-/<file>.tgz or @scope/<name>/-/<file>.tgz: nothing else of the folder is reachable.
    if (req.method === 'GET' && opts.files && /^\/(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*\/-\/[\w.-]+\.tgz$/.test(path) && !path.includes('..')) {
      return void readFile(join(opts.files, path)).then(
        (body) => {
          const sent = tamperedFiles.has(path) ? Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([body.at(-1)! ^ 1])]) : body;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(sent.length) });
          res.end(sent);
        },
        () => {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":"Not found"}');
        },
      );
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"Not found"}');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    integrity,
    requests,
    tamper: (on = true) => {
      tampered = on;
    },
    tamperFile: (path, on = true) => void (on ? tamperedFiles.add(path) : tamperedFiles.delete(path)),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
