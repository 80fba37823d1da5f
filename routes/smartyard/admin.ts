/**
 * Admin routes of the SmartYard adapter (mounted at /api/v1/smartyard behind the API-key check of mod.ts):
 * houses, their doors, cameras and residents. Errors are problem+json like the rest of /api/v1.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Deps } from "../../src/deps.ts";
import { type AppEnv, validate } from "../../src/http.ts";
import { parsePhone } from "../../src/otp/service.ts";
import {
  attachCamera,
  detachCamera,
  grantAddress,
  listHouseCameras,
  listResidents,
  revokeAddress,
} from "../../src/smartyard/house_access.ts";
import {
  addDoor,
  createHouse,
  deleteDoor,
  deleteHouse,
  DOOR_ICONS,
  getHouse,
  listDoors,
  listHouses,
  updateDoor,
  updateHouse,
} from "../../src/smartyard/houses.ts";
import type { SmartyardDeps } from "../../src/smartyard/mod.ts";

const houseId = z.coerce.number().int().min(1).max(2 ** 31 - 1);
const address = z.string().trim().min(1).max(500);
const coordinate = (max: number) =>
  z.union([z.string().trim(), z.number()]).transform(String).pipe(
    z.string().regex(/^-?\d{1,3}(\.\d{1,10})?$/, { message: "must be a decimal number", abort: true }).refine(
      (v) => Math.abs(Number(v)) <= max,
      `must be within ±${max}`,
    ),
  );

/** The body of POST /api/v1/smartyard/houses (`id`: the house's number in billing). */
export const houseBody = z.object({ id: houseId, address });
/** The body of POST /api/v1/smartyard/houses/:id/doors. */
export const doorBody = z.object({
  domophone_id: z.number().int().min(0).max(2 ** 31 - 1),
  door_id: z.number().int().min(0).max(1000).default(0),
  entrance: z.string().trim().max(50).nullable().optional(),
  icon: z.enum(DOOR_ICONS),
  name: z.string().trim().min(1).max(100),
  open_url: z.string().trim().min(1).max(2000),
  camera_id: z.uuid().nullable().optional(),
});
/** The body of PATCH /api/v1/smartyard/doors/:id. */
export const doorPatchBody = doorBody.pick({
  entrance: true,
  icon: true,
  name: true,
  open_url: true,
  camera_id: true,
})
  .partial().refine((b) => Object.keys(b).length > 0, "give at least one field");
/** The body of PUT /api/v1/smartyard/houses/:id/cameras/:camera_id. */
export const houseCameraBody = z.object({
  lat: coordinate(90).optional(),
  lon: coordinate(180).optional(),
  server_type: z.enum(["flussonic", "nimble", "macroscop", "trassir", "forpost"]).nullable().optional(),
  hls_mode: z.enum(["fmp4", "mpegts"]).nullable().optional(),
  dvr_url: z.url().max(1000).refine((u) => !u.includes("?"), "the stream base has no query").transform((u) =>
    u.replace(/\/+$/, "")
  ).nullable().optional(),
  has_sound: z.boolean().optional(),
});
/** The body of PUT /api/v1/smartyard/houses/:id/residents/:phone. */
export const residentBody = z.object({ flat: z.string().trim().max(20).nullable().optional() });

const houseParam = z.object({ id: houseId });
const page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** A phone in a path: E.164 with or without the "+", read like everywhere else. */
export function pathPhone(deps: Pick<Deps, "config">, raw: string): string {
  return parsePhone(deps, /^\d+$/.test(raw) ? `+${raw}` : raw, "phone");
}

/** Houses, doors, house cameras and residents (admin). */
export function adminHouseRoutes(sy: SmartyardDeps) {
  return new Hono<AppEnv>()
    .post("/houses", validate("json", houseBody), async (c) => {
      return c.json(await createHouse(sy, c.req.valid("json")), 201);
    })
    .get("/houses", validate("query", page), async (c) => {
      return c.json({ houses: await listHouses(sy, c.req.valid("query")) });
    })
    .get("/houses/:id", validate("param", houseParam), async (c) => {
      const { id } = c.req.valid("param");
      const house = await getHouse(sy, id);
      return c.json({
        ...house,
        doors: await listDoors(sy, id),
        cameras: await listHouseCameras(sy, id),
        residents: await listResidents(sy, id),
      });
    })
    .patch(
      "/houses/:id",
      validate("param", houseParam),
      validate("json", z.object({ address })),
      async (c) => {
        return c.json(await updateHouse(sy, c.req.valid("param").id, c.req.valid("json")));
      },
    )
    .delete("/houses/:id", validate("param", houseParam), async (c) => {
      await deleteHouse(sy, c.req.valid("param").id);
      return c.body(null, 204);
    })
    .post("/houses/:id/doors", validate("param", houseParam), validate("json", doorBody), async (c) => {
      return c.json(await addDoor(sy, c.req.valid("param").id, c.req.valid("json")), 201);
    })
    .patch(
      "/doors/:door",
      validate("param", z.object({ door: z.uuid() })),
      validate("json", doorPatchBody),
      async (c) => {
        return c.json(await updateDoor(sy, c.req.valid("param").door, c.req.valid("json")));
      },
    )
    .delete("/doors/:door", validate("param", z.object({ door: z.uuid() })), async (c) => {
      await deleteDoor(sy, c.req.valid("param").door);
      return c.body(null, 204);
    })
    .put(
      "/houses/:id/cameras/:camera_id",
      validate("param", z.object({ id: houseId, camera_id: z.uuid() })),
      validate("json", houseCameraBody),
      async (c) => {
        const { id, camera_id } = c.req.valid("param");
        const { camera, created } = await attachCamera(sy, id, camera_id, c.req.valid("json"));
        return c.json(camera, created ? 201 : 200);
      },
    )
    .delete(
      "/houses/:id/cameras/:camera_id",
      validate("param", z.object({ id: houseId, camera_id: z.uuid() })),
      async (c) => {
        const { id, camera_id } = c.req.valid("param");
        await detachCamera(sy, id, camera_id);
        return c.body(null, 204);
      },
    )
    .put(
      "/houses/:id/residents/:phone",
      validate("param", z.object({ id: houseId, phone: z.string().max(32) })),
      validate("json", residentBody),
      async (c) => {
        const { id, phone } = c.req.valid("param");
        const { resident, created } = await grantAddress(sy, id, {
          phone: pathPhone(sy, phone),
          flat: c.req.valid("json").flat,
        });
        return c.json(resident, created ? 201 : 200);
      },
    )
    .delete(
      "/houses/:id/residents/:phone",
      validate("param", z.object({ id: houseId, phone: z.string().max(32) })),
      async (c) => {
        const { id, phone } = c.req.valid("param");
        await revokeAddress(sy, id, pathPhone(sy, phone));
        return c.body(null, 204);
      },
    );
}
