/**
 * The one narrow interface clawops talks to Supabase through: deploy the edge function, read what
 * is deployed, set the function's secrets, list them and remove them (names and digests, never values). One
 * adapter (management-api.ts) implements it over the Management API; tests above it use a
 * recording fake.
 */

/** One source file of a function, by its path inside the function folder (such as `index.ts`). */
export interface FunctionFile {
  name: string;
  content: string | Uint8Array;
}

export interface DeployFunctionInput {
  projectRef: string;
  slug: string;
  files: FunctionFile[];
  /** The file Supabase runs, one of `files` (such as `index.ts`). */
  entrypoint: string;
  /** Display name; the slug when omitted. */
  name?: string;
  /**
   * Whether Supabase checks the caller's JWT before the function runs. The bridge checks the user
   * itself and must answer CORS preflights, which carry no token: deploy it with false.
   */
  verifyJwt: boolean;
  importMapPath?: string;
}

export interface DeployedFunction {
  id: string;
  slug: string;
  version: number;
  status: string;
  /** Supabase's hash of the bundle it built (ezbr_sha256), when it says. */
  bundleHash?: string;
}

export interface FunctionInfo {
  id: string;
  slug: string;
  version: number;
  status: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  verifyJwt: boolean;
  entrypointPath?: string;
  bundleHash?: string;
}

/** A secret as Supabase lists it: the name, and the hex SHA-256 of its value. Never print it. */
export interface SecretDigest {
  name: string;
  digest: string;
}

export interface SupabasePort {
  /** Creates the function, or a new version of it. */
  deployFunction(input: DeployFunctionInput): Promise<DeployedFunction>;
  /** The deployed function, or null when there is none. */
  getFunction(projectRef: string, slug: string): Promise<FunctionInfo | null>;
  /** Creates or replaces the named secrets (the function's environment variables). */
  setSecrets(projectRef: string, secrets: Record<string, string>): Promise<void>;
  listSecrets(projectRef: string): Promise<SecretDigest[]>;
  /** Removes the named secrets; a name that is not set is no error. */
  deleteSecrets(projectRef: string, names: readonly string[]): Promise<void>;
}

/** A failed Management API call, with what a person needs to act on it. Never carries the token or a secret value. */
export class SupabaseError extends Error {
  constructor(
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    readonly method: string,
    /** The URL path called, such as /v1/projects/abc/secrets (no host, no query). */
    readonly path: string,
    message: string,
    /** What Supabase said, or why no answer came. */
    override readonly cause?: { message: string },
  ) {
    super(`Supabase Management API: ${method} ${path}: ${status ? `${status} ` : ''}${message}`);
    this.name = 'SupabaseError';
  }
}
