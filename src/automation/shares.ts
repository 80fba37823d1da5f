/**
 * Share links (issue 13): a session's owner hands someone without credentials a one-time link that expires.
 * Opening it burns it (one atomic UPDATE, so two instances cannot both redeem it) and gives the opener a
 * guest token for that one session: follow it, answer its prompts, watch the live view (and use it only
 * while the owner hands control over), but not cancel it or take control. Only the link's hash is stored.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import { sessionShares } from "../../db/schema.ts";
import { randomToken, sha256Hex } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";

/** How long an unopened share link works. */
export const SHARE_TTL_S = 10 * 60;
/** How long the guest token an opened link hands out works. */
export const GUEST_TTL_S = 60 * 60;
/** JWT audience of guest tokens (never accepted as access tokens or socket tickets). */
export const GUEST_AUDIENCE = "gatehouse-share";
/** JWT audience of a guest's socket tickets. */
export const GUEST_TICKET_AUDIENCE = "gatehouse-share-ws";

/** Creates a one-time link token for `sessionId` (the caller checked the creator may see it). */
export async function createShare(
  deps: Pick<Deps, "db" | "clock">,
  sessionId: string,
  createdBy: string,
): Promise<{ token: string; expiresIn: number }> {
  const token = randomToken(32);
  const now = deps.clock.now();
  await deps.db.insert(sessionShares).values({
    tokenHash: sha256Hex(token),
    sessionId,
    createdBy,
    createdAt: now,
    expiresAt: new Date(now.getTime() + SHARE_TTL_S * 1000),
  });
  return { token, expiresIn: SHARE_TTL_S };
}

/** Burns a link token; returns its session and a guest token for it. 410 when used, expired or unknown. */
export async function redeemShare(
  deps: Pick<Deps, "db" | "clock" | "jwt">,
  token: string,
): Promise<{ sessionId: string; guestToken: string; expiresIn: number }> {
  const now = deps.clock.now();
  const [row] = await deps.db.update(sessionShares).set({ usedAt: now })
    .where(and(
      eq(sessionShares.tokenHash, sha256Hex(token)),
      isNull(sessionShares.usedAt),
      gt(sessionShares.expiresAt, now),
    ))
    .returning({ sessionId: sessionShares.sessionId });
  if (!row) throw new AppError(410, "Gone", "This share link was already used or has expired");
  const guestToken = await deps.jwt.sign(
    { sub: "guest", sid: "share", scope: row.sessionId },
    GUEST_TTL_S,
    GUEST_AUDIENCE,
  );
  return { sessionId: row.sessionId, guestToken, expiresIn: GUEST_TTL_S };
}

/** The session a guest token (or guest socket ticket, by `audience`) is for, or null. */
export async function guestScope(
  deps: Pick<Deps, "jwt">,
  token: string,
  audience = GUEST_AUDIENCE,
): Promise<string | null> {
  const claims = await deps.jwt.verify(token, audience) as { sub?: string; scope?: unknown } | null;
  return claims?.sub === "guest" && typeof claims.scope === "string" ? claims.scope : null;
}

/** A 60-second ticket for a guest's socket of `sessionId`. */
export function guestTicket(deps: Pick<Deps, "jwt">, sessionId: string): Promise<string> {
  return deps.jwt.sign({ sub: "guest", sid: "share", scope: sessionId }, 60, GUEST_TICKET_AUDIENCE);
}
