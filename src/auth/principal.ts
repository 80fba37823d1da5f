/** Who is calling, as every layer names it (no HTTP here: domain code imports this, not the middleware). */

/**
 * An operator with an API key (known by the key's non-secret id, src/auth/api_keys.ts), or a logged-in user
 * (with the login session the request belongs to).
 */
export type Principal =
  | { kind: "admin"; apiKeyId: string }
  | { kind: "user"; userId: string; sessionId: string };
