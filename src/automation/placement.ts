/**
 * placement: which instance runs a queued session. Sessions wait as rows in the database; an instance with
 * free browser slots claims the oldest (session_store.ts claim, `FOR UPDATE SKIP LOCKED`) when it is told a
 * session was queued (NOTIFY on QUEUE_CHANNEL), when one of its own sessions ends, and on a slow poll.
 * It also ends what no instance will: queued sessions past their deadline, and (Postgres) sessions of an
 * instance that is gone.
 */
import type { Logger } from "../log.ts";
import { BrowserSlots } from "./session_queue.ts";
import type { SessionStore } from "./session_store.ts";
import { INTERRUPTED, type SessionStatus } from "./status.ts";
import type { SessionRow } from "./view.ts";

/** How a placement is put together. */
export interface PlacementOptions {
  store: SessionStore;
  log: Logger;
  /** This instance's id (claimed rows carry it). */
  instance: string;
  maxRunning: number;
  maxQueue: number;
  /** Runs a row claimed for this instance (its slot is counted already). */
  run(row: SessionRow): void;
  /** Reports sessions ended in the database alone (followers and domain events). */
  ended(ids: string[], status: SessionStatus, error: string): Promise<void>;
  /** cluster: wakes the claimers of every instance (NOTIFY); absent on a lone instance. */
  announce?: () => void;
  /** cluster: the ids of the instances alive now (Postgres); absent, no orphan sweep runs. */
  alive?: () => Promise<string[]>;
  /** The slow poll of the queue (ms, real time): a safety net under the notifications. */
  pollMs?: number;
}

/** Claims queued sessions for this instance's free slots; see the module comment. */
export class Placement {
  readonly slots: BrowserSlots;
  readonly #o: PlacementOptions;
  #claiming?: Promise<void>;
  #again = false;
  #closed = false;
  #polledAt = 0;
  #sweptAt = 0;

  constructor(options: PlacementOptions) {
    this.#o = options;
    this.slots = new BrowserSlots({ maxRunning: options.maxRunning, maxQueue: options.maxQueue });
  }

  /** This instance's id (the rows it claims carry it). */
  get instance(): string {
    return this.#o.instance;
  }

  /**
   * Holds one free slot for a session being created here, so it can skip the queue (placeHere) when nobody
   * older waits; false when this instance is full. A hold not placed is given back with unreserve().
   */
  reserve(): boolean {
    if (this.#closed || this.slots.free() < 1) return false;
    this.slots.hold(1);
    return true;
  }

  /** Gives back a slot reserve() held. */
  unreserve(): void {
    this.slots.unhold(1);
    this.claim(); // a claim that ran meanwhile did not see this slot
  }

  /** Runs `row`, created claimed by this instance, in the slot reserve() held. */
  placeHere(row: SessionRow): void {
    this.slots.unhold(1);
    this.slots.add(row.id);
    this.#o.run(row);
  }

  /** A session was queued here: wake every instance's claimers, starting with this one. */
  queued(): void {
    this.#o.announce?.();
    this.claim();
  }

  /** Session `id` run here ended: its slot is free for the next queued one. */
  finished(id: string): void {
    this.slots.remove(id);
    this.claim();
  }

  /** Claims queued sessions for the free slots (one claim at a time; a call during one repeats it). */
  claim(): void {
    if (this.#closed) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    const n = this.slots.hold();
    if (!n) return;
    this.#claiming = (async () => {
      let rows: SessionRow[] = [];
      try {
        rows = await this.#o.store.queue.claim(this.#o.instance, n);
      } catch (err) {
        this.#o.log.error("placement: claiming queued sessions failed", { error: err });
      }
      this.slots.unhold(n);
      if (this.#closed) {
        await this.#o.store.queue.release(this.#o.instance, rows.map((r) => r.id)).catch(() => 0);
        return;
      }
      for (const row of rows) {
        this.slots.add(row.id);
        this.#o.run(row);
      }
      if (rows.length === n) this.#again = true; // there may be more
    })().finally(() => {
      this.#claiming = undefined;
      if (this.#again) {
        this.#again = false;
        this.claim();
      }
    });
  }

  /** For the reaper: the slow poll, expiry of queued sessions, and (every 10 s) the orphan sweep. */
  async tick(): Promise<void> {
    if (this.#closed) return;
    const now = performance.now();
    if (now - this.#polledAt >= (this.#o.pollMs ?? 2000)) {
      this.#polledAt = now;
      this.claim();
    }
    for (const { id, lifetimeS } of await this.#o.store.queue.expiredQueued()) {
      const error = `The session reached its maximum lifetime of ${lifetimeS} s`;
      const ids = await this.#o.store.endActive({ status: "expired", error, ids: [id], unclaimed: true });
      if (ids.length) await this.#o.ended(ids, "expired", error);
    }
    if (this.#o.alive && now - this.#sweptAt >= 10_000) {
      this.#sweptAt = now;
      await this.sweep(await this.#o.alive());
    }
  }

  /** Fails the sessions of instances not in `alive` (interrupted) and hands their unstarted ones back. */
  async sweep(alive: string[]): Promise<number> {
    const keep = [...new Set([...alive, this.#o.instance])];
    if (await this.#o.store.queue.releaseOrphans(keep)) this.#o.announce?.();
    const ids = await this.#o.store.endActive({ status: "failed", error: INTERRUPTED, orphansOf: keep });
    if (ids.length) {
      this.#o.log.warn("sessions of a stopped instance marked failed (interrupted)", { count: ids.length });
      await this.#o.ended(ids, "failed", INTERRUPTED);
    }
    return ids.length;
  }

  /** Stops claiming and hands the queued sessions claimed here but not started back to the queue. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#claiming;
    if (await this.#o.store.queue.release(this.#o.instance).catch(() => 0)) this.#o.announce?.();
  }
}
