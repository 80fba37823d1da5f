/** Users: people who logged in with their phone. */
import { eq } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";

/** A user as the API shows it. */
export interface User {
  id: string;
  phone: string;
}

/** The user with this E.164 phone, created on first sight. */
export async function findOrCreateUser(
  deps: Pick<Deps, "db" | "clock" | "events">,
  phone: string,
): Promise<User> {
  const now = deps.clock.now();
  const [created] = await deps.db.insert(users).values({ phone, createdAt: now }).onConflictDoNothing()
    .returning({ id: users.id, phone: users.phone });
  if (created) {
    deps.events.emit("user.created", { user_id: created.id }, now);
    return created;
  }
  const [existing] = await deps.db.select({ id: users.id, phone: users.phone }).from(users)
    .where(eq(users.phone, phone));
  return existing;
}

/** The user with this id, or a 404. */
export async function getUser(deps: Pick<Deps, "db">, id: string): Promise<User> {
  const [user] = await deps.db.select({ id: users.id, phone: users.phone }).from(users).where(
    eq(users.id, id),
  );
  if (!user) throw new NotFoundError("The user no longer exists");
  return user;
}

/** The calling user: from the in-memory login (no round trip when warm), else read from the database. */
export async function currentUser(
  deps: Pick<Deps, "db" | "logins">,
  principal: { userId: string; sessionId: string },
): Promise<User> {
  const login = await deps.logins?.check(principal.sessionId, principal.userId);
  return login ? { id: login.userId, phone: login.phone } : await getUser(deps, principal.userId);
}
