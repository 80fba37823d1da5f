/** placement: turning a row this instance claimed into what a LiveSession starts from, and reporting SQL-side ends. */
import type { CommandSeal } from "./commands.ts";
import type { Flow } from "./flow.ts";
import type { EventHub } from "./hub.ts";
import type { SessionStore } from "./session_store.ts";
import type { SessionStatus } from "./status.ts";
import type { SessionRow } from "./view.ts";

/** How a claimed row starts here: its flow, its input (unsealed: secrets included) and its own limits. */
export function claimedInit(row: SessionRow, flows: ReadonlyMap<string, Flow>, seal: CommandSeal) {
  const flow = flows.get(row.flow);
  if (!flow) throw new Error(`Cannot start session: this instance has no flow "${row.flow}"`);
  let input: unknown;
  try {
    input = row.sealedInput ? seal.open(row.sealedInput) : row.input;
  } catch {
    throw new Error("Cannot start session: its sealed input does not open with this JWT_SECRET");
  }
  return {
    id: row.id,
    owner: row.owner,
    flow,
    input,
    webhookUrl: row.webhookUrl ?? undefined,
    createdAt: row.createdAt.getTime(),
    lifetimeS: (row.expiresAt.getTime() - row.createdAt.getTime()) / 1000,
    promptTimeoutS: row.promptTimeoutS ?? undefined,
    seq: row.seq,
  };
}

/**
 * Tells followers (here, and on other instances through the relay's tap of the hub) and domain listeners
 * about sessions ended in SQL alone (cancelled or expired in the queue, failed as interrupted).
 */
export async function reportEnded(
  env: { store: SessionStore; hub: EventHub },
  emit: (id: string, flow: string, seq: number, type: string, data: Record<string, unknown>) => void,
  change: { ids: string[]; status: SessionStatus; error: string | null },
): Promise<void> {
  for (const id of change.ids) {
    for (const event of await env.store.events(id)) env.hub.publish(id, event);
    const row = await env.store.row(id);
    const data = { status: change.status, ...(change.error ? { error: change.error } : {}) };
    emit(id, row.flow, row.seq, "session.status", data);
    emit(id, row.flow, row.seq, "session.finished", data);
  }
}
