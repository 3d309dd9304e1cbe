/**
 * Who is calling: the caller's Supabase user token, checked by Supabase Auth itself
 * (`GET {SUPABASE_URL}/auth/v1/user` with the token and the project's anon key). Nothing reaches
 * the gateway before this succeeds.
 */
import { BridgeError } from './http.ts';

export interface User {
  id: string;
}

/** Supabase user ids are UUIDs; they become part of gateway session keys, so nothing else is let in. */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const AUTH_TIMEOUT_MS = 10_000;

export async function verifyUser(
  authorization: string | null,
  opts: { supabaseUrl: string; anonKey: string; fetch: typeof fetch; signal: AbortSignal },
): Promise<User> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) throw new BridgeError(401, 'unauthorized', 'A Supabase user token is required: Authorization: Bearer <access token>.');
  let res: Response;
  try {
    res = await opts.fetch(`${opts.supabaseUrl}/auth/v1/user`, {
      headers: { authorization: `Bearer ${token}`, apikey: opts.anonKey },
      signal: AbortSignal.any([opts.signal, AbortSignal.timeout(AUTH_TIMEOUT_MS)]),
    });
  } catch {
    throw new BridgeError(502, 'auth_unavailable', 'Supabase Auth could not be reached to check the user token.');
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new BridgeError(401, 'unauthorized', 'The user token is invalid or expired.');
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new BridgeError(502, 'auth_unavailable', `Supabase Auth answered ${res.status} when checking the user token.`);
  }
  const user = (await res.json().catch(() => null)) as { id?: unknown } | null;
  if (!user || typeof user.id !== 'string' || !USER_ID.test(user.id)) throw new BridgeError(401, 'unauthorized', 'The user token does not name a user.');
  return { id: user.id.toLowerCase() };
}
