/**
 * What a live session (live_session.ts) is made from: the service around it (store, hub, pool, limits,
 * callbacks) and who and what the session is.
 */
import type { Clock } from "../clock.ts";
import type { Flow } from "./flow.ts";
import type { Logger } from "../log.ts";
import type { EventHub } from "./hub.ts";
import type { LiveSession } from "./live_session.ts";
import type { BrowserPool } from "./pool.ts";
import type { SessionStore } from "./session_store.ts";
import type { SessionLimits } from "./view.ts";

/** Who and what a new live session is, and optionally its own time limits. */
export type LiveSessionInit = { id: string; owner: string; flow: Flow; input: unknown; createdAt: number } & {
  webhookUrl?: string;
  /** The stored row's seq (a claimed session may have events from its time in the queue). */
  seq?: number;
} & SessionLimits;

/** What a live session uses of the service around it. */
export interface LiveEnv {
  store: SessionStore;
  hub: EventHub;
  pool: BrowserPool;
  clock: Clock;
  log: Logger;
  promptTimeoutS: number;
  maxLifetimeS: number;
  /** The one default timeout of every page wait in a flow. */
  stepTimeoutMs: number;
  /** QR frames are written to the row at most this often. */
  imagePersistMs: number;
  portalUrl: string;
  /** Who borrows browser contexts from the pool (the pool's sweep keeps only its own). */
  leaseOwner: object;
  secrets(flow: string): Record<string, string>;
  /** Emits a domain event about `session` (and sends its webhook). */
  emit(session: LiveSession, type: string, data: Record<string, unknown>): void;
  /** Called once the end is stored: frees the session's slot. */
  ended(session: LiveSession): void;
}
