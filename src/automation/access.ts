/** Who owns a session, who may see it, and short-lived WebSocket tickets for browsers that cannot send headers. */
import { apiKeyIds } from "../auth/api_keys.ts";
import type { Principal } from "../auth/principal.ts";
import { isSessionActive } from "../auth/sessions.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import { requireAutomation } from "./mod.ts";
import type { SessionView } from "./sessions.ts";

/** JWT audience of WebSocket tickets, so a ticket is never accepted as an access token (or the reverse). */
export const TICKET_AUDIENCE = "gatehouse-ws";
/** How long a ticket works. */
export const TICKET_TTL_S = 60;
/** The ticket scope that allows `GET /ws` (start a session) rather than one session's socket. */
export const ANY_SESSION = "*";

/** The owner string stored on sessions a principal starts: "admin" for API keys, "user:<id>" for users. */
export function ownerOf(principal: Principal): string {
  return principal.kind === "admin" ? "admin" : `user:${principal.userId}`;
}

/**
 * The id of the API key `principal` calls with (its sessions count against that key's fair share), or
 * undefined for users and keyless callers. Stored beside the owner, which stays "admin" for every key.
 */
export function apiKeyIdOf(principal: Principal | null): string | undefined {
  return principal?.kind === "admin" ? principal.apiKeyId : undefined;
}

/** Admins see every session; a user sees the sessions they own. */
export function canSee(principal: Principal, owner: string): boolean {
  return principal.kind === "admin" || owner === ownerOf(principal);
}

/** The session `id` if `principal` may see it; 404 otherwise (others' sessions do not exist for them). */
export async function visibleSession(
  deps: Pick<Deps, "automation">,
  principal: Principal,
  id: string,
): Promise<SessionView> {
  const view = await requireAutomation(deps).sessions.get(id);
  if (!canSee(principal, view.owner)) throw new NotFoundError(`No session ${id}`);
  return view;
}

/** Signs a ticket that lets its bearer open the socket of `sessionId` (or `/ws` for ANY_SESSION) for 60 s. */
export function issueTicket(
  deps: Pick<Deps, "jwt">,
  principal: Principal,
  sessionId: string,
): Promise<string> {
  return deps.jwt.sign(
    {
      sub: principal.kind === "admin" ? "admin" : principal.userId,
      sid: principal.kind === "admin" ? `${KEY_TICKET}${principal.apiKeyId}` : principal.sessionId,
      scope: sessionId,
    },
    TICKET_TTL_S,
    TICKET_AUDIENCE,
  );
}

/** The `sid` of an API key's ticket is this and the key's id (the key itself is never in a ticket). */
const KEY_TICKET = "api-key:";

/** Verifies a ticket for `sessionId`; returns the principal it stands for, or null. */
export async function redeemTicket(
  deps: Pick<Deps, "jwt" | "db" | "logins" | "config">,
  ticket: string,
  sessionId: string,
): Promise<Principal | null> {
  const claims = await deps.jwt.verify(ticket, TICKET_AUDIENCE) as
    | (Awaited<ReturnType<Deps["jwt"]["verify"]>> & { scope?: unknown })
    | null;
  if (!claims || claims.scope !== sessionId) return null;
  if (claims.sub === "admin") {
    // An API key's ticket dies with its key (removed from API_KEYS); one without a key id is refused.
    const apiKeyId = claims.sid.startsWith(KEY_TICKET) ? claims.sid.slice(KEY_TICKET.length) : "";
    return apiKeyIds(deps.config.API_KEYS).includes(apiKeyId) ? { kind: "admin", apiKeyId } : null;
  }
  // A user's ticket dies with their login.
  if (!(await isSessionActive(deps, claims.sid, claims.sub))) return null;
  return { kind: "user", userId: claims.sub, sessionId: claims.sid };
}
