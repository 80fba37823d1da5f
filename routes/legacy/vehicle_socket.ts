/**
 * The vehicle-lookup mobile app's socket, a plain WebSocket at `GET /ws/legacy` and at the root `GET /`
 * (the old server listened at `ws://IP:PORT`; a root GET that is not an upgrade goes on to the console).
 * The protocol is in src/automation/legacy/vehicle_socket.ts. 401 before the upgrade without a valid
 * key; `/ws/legacy` answers 426 without an upgrade.
 */
import { Hono } from "hono";
import { except } from "hono/combine";
import { upgradeWebSocket } from "hono/deno";
import { VehicleLookupSocket, type VehicleMessage } from "../../src/automation/legacy/vehicle_socket.ts";
import { requireAutomation } from "../../src/automation/mod.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { jsonSocket, logoutWatch, publicBase, socketAuth } from "../../src/http_socket.ts";

/** The socket's handlers: authentication (and the 426), then the upgrade. */
function vehicleSocket(deps: Deps) {
  return [
    socketAuth(deps),
    upgradeWebSocket((c) => {
      const sessions = requireAutomation(deps).sessions;
      const principal = c.get("principal");
      const base = publicBase(deps, c);
      const artifactUrl = (id: string, name: string) =>
        `${base}/api/v1/sessions/${id}/artifacts/${encodeURIComponent(name)}`;
      return jsonSocket<VehicleMessage>((peer) => {
        const app = new VehicleLookupSocket({ sessions, log: deps.log }, { principal, peer, artifactUrl });
        return { message: (data) => app.receive(data), close: () => app.close() };
      }, { logout: logoutWatch(deps, principal), drain: deps.drain });
    }),
  ] as const;
}

/** `/ws/legacy` (mounted at /ws/legacy). */
export function vehicleSocketRoutes(deps: Deps) {
  return new Hono<AppEnv>().get("/", ...vehicleSocket(deps));
}

/**
 * The same socket at the root (mounted at / before the console): only WebSocket upgrades are taken, any
 * other `GET /` goes on to the next route.
 */
export function vehicleRootSocketRoutes(deps: Deps) {
  const notUpgrade = (c: { req: { header(name: string): string | undefined } }) =>
    c.req.header("upgrade")?.toLowerCase() !== "websocket";
  return new Hono<AppEnv>().get("/", except(notUpgrade, ...vehicleSocket(deps)));
}
