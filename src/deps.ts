/** Everything the app needs, built once by main.ts (or by a test) and injected into createApp. */
import { Drain } from "./drain.ts";
import type { Db } from "../db/client.ts";
import type { JwtKeys } from "./auth/jwt.ts";
import { LoginSessions } from "./auth/login_cache.ts";
import type { Automation } from "./automation/mod.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { TraccarClient } from "./devices/traccar_client.ts";
import type { EventBus } from "./events.ts";
import type { Logger } from "./log.ts";
import type { SmsSender } from "./otp/sms.ts";
import type { CameraAuth } from "./cameras/media_auth.ts";
import { KeyedMutex } from "./keyed_mutex.ts";
import type { Metrics } from "./metrics.ts";
import type { ConnStats } from "./conn_guard.ts";

/** The injected dependencies of the whole app. */
export interface Deps {
  config: Config;
  db: Db;
  clock: Clock;
  log: Logger;
  events: EventBus;
  jwt: JwtKeys;
  sms: SmsSender;
  /** The Traccar server, when TRACCAR_URL is set; absent, devices work locally and commands answer 503. */
  traccar?: TraccarClient;
  /** Browser automation sessions; the session routes answer 503 when absent. */
  automation?: Automation;
  /** The media-auth decision cache; createApp makes one when absent. */
  cameraAuth?: CameraAuth;
  /** `performance.now()` when the server started (health's `uptime_s`); createApp takes its own time when absent. */
  startedAt?: number;
  /** Serialises double submits of one device claim; createApp makes one per app when absent. */
  claimLocks?: KeyedMutex;
  /** cluster: login sessions in memory (revocations arrive by broadcast); createApp makes a local one when absent. */
  logins?: LoginSessions;
  /** Prometheus metrics (/metrics); createApp makes one per app when absent. */
  metrics?: Metrics;
  /** The connection guard's counts (src/conn_guard.ts); undefined when no guard fronts the server. */
  connections?: () => ConnStats | undefined;
  /** Shutdown: closes sockets (1001), ends SSE streams and long-polls; createApp makes one when absent. */
  drain?: Drain;
}

/** Deps with the per-app objects filled in: what createApp hands the route modules. */
export type AppDeps = Deps & Required<Pick<Deps, "startedAt" | "claimLocks" | "logins" | "drain">>;

/** `deps` with every per-app object main.ts (or a test) did not inject made fresh, once per app. */
export function withAppDefaults(deps: Deps): AppDeps {
  return {
    ...deps,
    startedAt: deps.startedAt ?? performance.now(),
    claimLocks: deps.claimLocks ?? new KeyedMutex(),
    logins: deps.logins ?? new LoginSessions(deps),
    drain: deps.drain ?? new Drain(),
  };
}
