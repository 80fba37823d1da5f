/**
 * cluster: wakes followers on every instance when a session run here stores an event. The NOTIFY carries
 * only `{instance, session_id, seq}` (never event data: images and answers stay in the database, and
 * NOTIFY payloads are capped at 8 KB); a follower elsewhere is woken and reads the stored events itself.
 * Without the channel (lost connection), followers still poll the database every `remotePollMs`.
 */
import { readNotice } from "../notices.ts";
import type { DbHandle } from "../../db/client.ts";
import type { Logger } from "../log.ts";
import type { EventHub } from "./hub.ts";

/** The NOTIFY channel of session event references. */
export const SESSION_CHANNEL = "gatehouse_session";

/** What one notification says: instance `instance` stored event `seq` of `session_id`. */
export interface SessionNotice {
  instance: string;
  session_id: string;
  seq: number;
}

/** Relays stored-event notices between this instance's hub and the other instances'. */
export class SessionRelay implements AsyncDisposable {
  /** This instance's id in notices (its own notices come back and are ignored). */
  readonly instance = crypto.randomUUID();
  readonly #hub: EventHub;
  readonly #handle: Pick<DbHandle, "listen" | "notify">;
  readonly #log: Logger;
  readonly #offTap: () => void;
  #unlisten?: () => Promise<void>;

  constructor(hub: EventHub, handle: Pick<DbHandle, "listen" | "notify">, log: Logger) {
    this.#hub = hub;
    this.#handle = handle;
    this.#log = log;
    // Only sessions run here publish stored events into this hub (remote wakes are ephemeral).
    this.#offTap = hub.tap((sessionId, event) => {
      if (event.ephemeral) return;
      const notice: SessionNotice = { instance: this.instance, session_id: sessionId, seq: event.seq };
      handle.notify(SESSION_CHANNEL, JSON.stringify(notice)).catch((err) =>
        log.warn("session relay: notify failed (remote followers fall back to polling)", { error: err })
      );
    });
  }

  /** Starts receiving other instances' notices. */
  async listen(): Promise<void> {
    this.#unlisten = await this.#handle.listen(SESSION_CHANNEL, (payload) => this.#receive(payload));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    this.#offTap();
    await unlisten?.();
  }

  #receive(payload: string): void {
    const notice = readNotice<SessionNotice>(payload);
    if (!notice) return this.#log.warn("session relay: unreadable notice ignored");
    const id = notice.session_id;
    if (notice.instance === this.instance || typeof id !== "string" || typeof notice.seq !== "number") return;
    if (this.#hub.followers(id) === 0) return;
    // A wake-up, not an event: remote followers read the stored events after their last seq.
    this.#hub.publish(id, {
      seq: notice.seq,
      type: "wake",
      data: {},
      at: new Date().toISOString(),
      ephemeral: true,
    });
  }
}
