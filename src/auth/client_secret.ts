/** The old mobile apps' shared secret (`client_secret` in every request of theirs). */
import { constantTimeEqual } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors.ts";

/** Throws 401 unless `secret` equals CLIENT_SECRET (and one is configured: unset closes the old routes). */
export function checkClientSecret(deps: Pick<Deps, "config">, secret: string): void {
  const expected = deps.config.CLIENT_SECRET;
  if (!expected || !constantTimeEqual(expected, secret)) throw new UnauthorizedError("Invalid client_secret");
}
