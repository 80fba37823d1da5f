/**
 * Devices: claim GPS trackers by IMEI, rename them, read their event history, send commands and
 * schedule them. Users (Bearer access token) see only their own devices; admins (API key) see all.
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import { sendDeviceCommand } from "../src/devices/commands.ts";
import { isValidImei } from "../src/devices/imei.ts";
import {
  checkDevice,
  claimDevice,
  getDevice,
  listDeviceEvents,
  listDevices,
  releaseDevice,
  updateDevice,
} from "../src/devices/registry.ts";
import { createSchedule, deleteSchedule, listSchedules, MIN_EVERY_S } from "../src/devices/schedules.ts";
import type { AppDeps } from "../src/deps.ts";
import { ForbiddenError, ValidationError } from "../src/errors.ts";
import { type AppEnv, validate } from "../src/http.ts";

/** An IMEI: 15 digits with a valid Luhn check digit. */
export const imeiSchema = z.string().trim().refine(isValidImei, {
  message: "An IMEI is 15 digits ending in a valid Luhn check digit",
});

const name = z.string().trim().min(1).max(100);
const attributes = z.record(z.string().min(1).max(64), z.json()).refine((a) => Object.keys(a).length <= 50, {
  message: "At most 50 attributes at a time",
});
/** A Traccar command: its type (`custom`, `sendUssd`, `positionPeriodic`, …) and attributes. */
const command = z.object({
  type: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, "A Traccar command type such as custom or sendUssd"),
  attributes: attributes.default({}),
});

/** The devices API, mounted at /api/v1/devices. */
export function devicesRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .use(requireAuth(deps))
    .post("/check", validate("json", z.object({ imei: imeiSchema })), async (c) => {
      return c.json(await checkDevice(deps, c.get("principal"), c.req.valid("json").imei));
    })
    .post(
      "/",
      validate("json", z.object({ imei: imeiSchema, name: name.optional(), user_id: z.uuid().optional() })),
      async (c) => {
        const body = c.req.valid("json");
        const principal = c.get("principal");
        let userId: string;
        if (principal.kind === "admin") {
          if (!body.user_id) {
            throw new ValidationError([{
              field: "user_id",
              message: "An admin claims for a user: give user_id",
            }]);
          }
          userId = body.user_id;
        } else {
          if (body.user_id && body.user_id !== principal.userId) {
            throw new ForbiddenError("Users claim devices for themselves only");
          }
          userId = principal.userId;
        }
        const { device, created } = await claimDevice(deps, { userId, imei: body.imei, name: body.name });
        return c.json(device, created ? 201 : 200);
      },
    )
    .get("/", async (c) => {
      return c.json({ devices: await listDevices(deps, c.get("principal")) });
    })
    .get("/:id", async (c) => {
      return c.json(await getDevice(deps, c.get("principal"), c.req.param("id")));
    })
    .patch(
      "/:id",
      validate(
        "json",
        z.object({ name: name.optional(), attributes: attributes.optional() }).refine(
          (b) => b.name !== undefined || b.attributes !== undefined,
          { message: "Give name and/or attributes" },
        ),
      ),
      async (c) => {
        return c.json(await updateDevice(deps, c.get("principal"), c.req.param("id"), c.req.valid("json")));
      },
    )
    .delete("/:id", async (c) => {
      await releaseDevice(deps, c.get("principal"), c.req.param("id"));
      return c.body(null, 204);
    })
    .get("/:id/events", async (c) => {
      return c.json({ events: await listDeviceEvents(deps, c.get("principal"), c.req.param("id")) });
    })
    .post("/:id/commands", validate("json", command), async (c) => {
      const status = await sendDeviceCommand(
        deps,
        c.get("principal"),
        c.req.param("id"),
        c.req.valid("json"),
      );
      return c.json({ status }, status === "queued" ? 202 : 200);
    })
    .post(
      "/:id/schedules",
      validate(
        "json",
        z.object({ command, every_s: z.number().int().min(MIN_EVERY_S).max(30 * 24 * 3600) }),
      ),
      async (c) => {
        const schedule = await createSchedule(
          deps,
          c.get("principal"),
          c.req.param("id"),
          c.req.valid("json"),
        );
        return c.json(schedule, 201);
      },
    )
    .get("/:id/schedules", async (c) => {
      return c.json({ schedules: await listSchedules(deps, c.get("principal"), c.req.param("id")) });
    })
    .delete("/:id/schedules/:sid", async (c) => {
      await deleteSchedule(deps, c.get("principal"), c.req.param("id"), c.req.param("sid"));
      return c.body(null, 204);
    });
}
