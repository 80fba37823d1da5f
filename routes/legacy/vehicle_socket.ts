/**
 * The vehicle-lookup mobile app's socket, `GET /ws/legacy` (a plain WebSocket; the protocol is in
 * src/automation/legacy/vehicle_socket.ts). 401 before the upgrade without a valid key, 426 without an
 * upgrade.
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { VehicleLookupSocket, type VehicleMessage } from "../../src/automation/legacy/vehicle_socket.ts";
import { requireAutomation } from "../../src/automation/mod.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { jsonSocket, logoutWatch, socketAuth } from "../../src/http_socket.ts";

/** `/ws/legacy` (mounted at /ws/legacy). */
export function vehicleSocketRoutes(deps: Deps) {
  return new Hono<AppEnv>().get(
    "/",
    socketAuth(deps),
    upgradeWebSocket((c) => {
      const sessions = requireAutomation(deps).sessions;
      const principal = c.get("principal");
      return jsonSocket<VehicleMessage>((peer) => {
        const app = new VehicleLookupSocket({ sessions, log: deps.log }, { principal, peer });
        return { message: (data) => app.receive(data), close: () => app.close() };
      }, { logout: logoutWatch(deps, principal) });
    }),
  );
}
