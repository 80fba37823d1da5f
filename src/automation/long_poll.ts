/** The query of a session long-poll (`?wait=<s>&after=<seq>`) and the wait it asks for: one shape for every route. */
import { z } from "zod";
import type { SessionService } from "./sessions.ts";
import type { SessionView } from "./view.ts";

/** An event sequence number from a query string. */
export const afterParam = z.coerce.number().int().min(0).max(2 ** 31 - 1);

/** `?after=<seq>`: events after this one. */
export const afterQuery = z.object({ after: afterParam.optional() });

/** `?wait=<seconds>&after=<seq>`: answer once there is an event after `after` (or the view's seq), or at `wait`. */
export const longPollQuery = z.object({
  wait: z.coerce.number().min(0).max(60).optional(),
  after: afterParam.optional(),
});

/** `view` as is without `wait`; otherwise the session's view once an event after `after` exists, or at the timeout. */
export async function longPoll(
  sessions: SessionService,
  view: SessionView,
  query: z.output<typeof longPollQuery>,
  signal?: AbortSignal,
): Promise<SessionView> {
  if (!query.wait) return view;
  return await sessions.waitForEvent(view.id, query.after ?? view.seq, query.wait * 1000, signal);
}

/** The request's abort signal, also aborted when the server drains (the client then polls another instance). */
export function withDrain(deps: { drain?: { signal: AbortSignal } }, signal: AbortSignal): AbortSignal {
  return deps.drain ? AbortSignal.any([signal, deps.drain.signal]) : signal;
}
