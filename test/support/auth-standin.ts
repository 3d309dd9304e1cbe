/**
 * A stand-in for the Supabase Auth API, as much of it as the bridge uses: `GET /auth/v1/user` with
 * `Authorization: Bearer <user access token>` and `apikey: <anon key>`. Known tokens get their
 * user (200); anything else gets 401 as Supabase answers a bad JWT (403 when the anon key is
 * wrong, as the API gateway does). Every call is recorded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthStandin {
  url: string;
  anonKey: string;
  /** Issues a token for a new user; returns both. */
  issue(email?: string): { token: string; userId: string };
  calls: { path: string; token: string | null; apikeyOk: boolean; status: number }[];
  close(): Promise<void>;
}

export async function startAuthStandin(): Promise<AuthStandin> {
  const anonKey = `anon-${randomBytes(12).toString('hex')}`;
  const users = new Map<string, { id: string; email: string }>();
  const calls: AuthStandin['calls'] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
    const apikeyOk = req.headers.apikey === anonKey;
    const send = (status: number, body: unknown) => {
      calls.push({ path, token, apikeyOk, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || path !== '/auth/v1/user') return send(404, { code: 404, msg: 'not found' });
    if (!apikeyOk) return send(401, { message: 'Invalid API key' });
    const user = token ? users.get(token) : undefined;
    if (!user) return send(403, { code: 403, error_code: 'bad_jwt', msg: 'invalid JWT: unable to parse or verify signature' });
    send(200, { id: user.id, aud: 'authenticated', role: 'authenticated', email: user.email, app_metadata: {}, user_metadata: {} });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    anonKey,
    issue(email = 'person@example.com') {
      const token = `eyJ.user-${randomBytes(16).toString('hex')}`;
      const userId = randomUUID();
      users.set(token, { id: userId, email });
      return { token, userId };
    },
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
