/** Who is calling, as every layer names it (no HTTP here: domain code imports this, not the middleware). */

/** An operator with an API key, or a logged-in user (with the login session the request belongs to). */
export type Principal = { kind: "admin" } | { kind: "user"; userId: string; sessionId: string };
