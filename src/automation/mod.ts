/** The automation service as the app sees it: flows, the browser pool, sessions, reaper and webhooks. */
import { ServiceUnavailableError } from "../errors.ts";
import type { Flow } from "./flow.ts";
import { EventHub } from "./hub.ts";
import { LiveView } from "./live_view.ts";
import { BrowserPool } from "./pool.ts";
import { Reaper } from "./reaper.ts";
import { SessionRelay } from "./relay.ts";
import { applyHere, CommandRelay } from "./commands.ts";
import type { DbHandle } from "../../db/client.ts";
import { type AutomationDeps, SessionService } from "./sessions.ts";
import { SessionStore } from "./session_store.ts";
import { INTERRUPTED } from "./status.ts";
import { QUEUE_CHANNEL } from "./session_queue.ts";
import type { SessionOutbox } from "./session_store.ts";

/** Everything the session routes (and the legacy surfaces) use; `Deps.automation`. */
export interface Automation extends AsyncDisposable {
  sessions: SessionService;
  pool: BrowserPool;
  reaper: Reaper;
  /** Screencasts of running sessions' tabs, and take-over (issue 13). */
  liveView: LiveView;
  /** Ends the sessions, stops the reaper and closes the pool (if it owns it). */
  close(): Promise<void>;
}

/** How createAutomation is put together; everything but `flows` has a default from config. */
export interface AutomationOptions {
  flows: readonly Flow[];
  /** A pool to share (tests share one per file); otherwise one is made from config and owned. */
  pool?: BrowserPool;
  /** Base URL of the portals; PORTAL_BASE_URL, else main.ts's default `http://127.0.0.1:PORT/demo`. */
  portalUrl?: string;
  /** How often the reaper runs (ms). */
  reapIntervalMs?: number;
  /** How often a QR frame is written to the session row (ms). */
  imagePersistMs?: number;
  /** Credentials per flow; FLOW_SECRETS by default. */
  secrets?: Readonly<Record<string, Record<string, string>>>;
  /** cluster: the database handle whose LISTEN/NOTIFY carries event notices between instances. */
  cluster?: Pick<DbHandle, "listen" | "notify"> & Partial<Pick<DbHandle, "kind" | "instance">>;
  /** The webhook outbox session changes write to (src/webhooks/mod.ts sessionOutbox). */
  outbox?: SessionOutbox;
  /** cluster: this instance's id (claimed sessions carry it); the cluster handle's, else random. */
  instance?: string;
}

/** Builds the automation service; nothing is launched until the first session starts. */
export function createAutomation(deps: AutomationDeps, options: AutomationOptions): Automation {
  const { config, log } = deps;
  const ownPool = !options.pool;
  const pool = options.pool ?? new BrowserPool({
    executablePath: config.CHROME_PATH,
    wsEndpoint: config.BROWSER_WS_ENDPOINT,
    warmPages: config.BROWSER_WARM_PAGES,
    log,
  });
  const hub = new EventHub((err) => log.error("session follower failed", { error: err }));
  const relay = options.cluster ? new SessionRelay(hub, options.cluster, log) : undefined;
  const listening = relay?.listen().catch((err) => log.error("session relay: listen failed", { error: err }));
  let commands: CommandRelay | undefined;
  const cluster = options.cluster;
  const instance = options.instance ?? cluster?.instance ?? crypto.randomUUID();
  const store = new SessionStore(deps);
  const sessions = new SessionService(deps, {
    instance,
    // placement: a queued session wakes every instance's claimers; the reaper polls as a safety net
    announce: cluster
      ? () =>
        void cluster.notify(QUEUE_CHANNEL, instance).catch((err) =>
          log.warn("placement: queue notice failed (claimers poll)", { error: err })
        )
      : undefined,
    // cluster: on Postgres, an instance is alive while its tagged connections are (pg_stat_activity)
    alive: cluster?.kind === "postgres" && cluster.instance ? () => store.queue.liveInstances() : undefined,
    flows: options.flows,
    pool,
    outbox: options.outbox,
    hub,
    forward: options.cluster ? (id, command) => commands!.send(id, command) : undefined,
    portalUrl: options.portalUrl ?? config.PORTAL_BASE_URL ?? `http://127.0.0.1:${config.PORT}/demo`,
    imagePersistMs: options.imagePersistMs,
    secrets: options.secrets,
  });
  if (options.cluster) {
    commands = new CommandRelay(options.cluster, {
      secret: config.JWT_SECRET ?? "",
      log,
      apply: (id, command) => applyHere(sessions, id, command),
    });
  }
  let unlistenQueue: (() => Promise<void>) | undefined;
  const queueListening = cluster?.listen(QUEUE_CHANNEL, () => sessions.claimQueued())
    .then((off) => void (unlistenQueue = off))
    .catch((err) => log.error("placement: listen failed", { error: err }));
  const commandsListening = commands?.listen().catch((err) =>
    log.error("session commands: listen failed", { error: err })
  );
  const reaper = new Reaper(() => sessions.reap(), { intervalMs: options.reapIntervalMs ?? 1000, log });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await reaper.close();
      await sessions.close();
      await listening;
      await commandsListening;
      await queueListening;
      await unlistenQueue?.();
      await relay?.[Symbol.asyncDispose]();
      await commands?.[Symbol.asyncDispose]();
      if (ownPool) await pool.close();
    })();
  const liveView = new LiveView((id) => sessions.page(id), log);
  return { sessions, pool, reaper, liveView, close, [Symbol.asyncDispose]: close };
}

/** The automation service, or a 503 when this server runs without it. */
export function requireAutomation(deps: { automation?: Automation }): Automation {
  if (!deps.automation) {
    throw new ServiceUnavailableError("Browser automation is not enabled on this server");
  }
  return deps.automation;
}

/**
 * Marks sessions no live instance runs as failed (interrupted); main.ts calls it at start. `alive` are the
 * instances still running (others' sessions are left alone; on PGlite, the one process is this one); queued
 * sessions a gone instance had claimed go back to the queue, and unclaimed ones wait for a claim.
 */
export async function markInterrupted(
  deps: Pick<AutomationDeps, "db" | "clock" | "log" | "events">,
  options: { outbox?: SessionOutbox; alive?: string[] } = {},
): Promise<number> {
  const store = new SessionStore({ ...deps, outbox: options.outbox }); // webhooks: session.failed of each
  const alive = options.alive ?? [];
  await store.queue.releaseOrphans(alive);
  const ids = await store.endActive({ status: "failed", error: INTERRUPTED, orphansOf: alive });
  for (const id of ids) {
    deps.events.emit("session.finished", { session_id: id, status: "failed", error: INTERRUPTED });
  }
  if (ids.length) deps.log.warn("sessions interrupted by a restart marked failed", { count: ids.length });
  return ids.length;
}
