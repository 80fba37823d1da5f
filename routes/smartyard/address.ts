/** The apps' addresses, doors and cameras: address/* and cctv/*. */
import { Hono } from "hono";
import { z } from "zod";
import { addressList, openDoor, settingsList } from "../../src/smartyard/addresses.ts";
import { cameraList, camMap } from "../../src/smartyard/cctv.ts";
import type { SmartyardDeps } from "../../src/smartyard/mod.ts";
import { appAuth, caller, ok, readJson, type SyEnv } from "./http.ts";

/** An id the apps send as a number (Android) or a numeric string (iOS). */
const numericId = z.union([z.number().int().min(0).max(2 ** 31 - 1), z.string().regex(/^\d{1,9}$/)])
  .transform(Number);

/** The body of address/openDoor. */
export const openDoorBody = z.object({
  domophoneId: numericId,
  doorId: z.union([z.number().int().min(0).max(1000), z.string().regex(/^\d{1,3}$/).transform(Number)])
    .optional().transform((v) => v ?? 0),
});

/** The body of cctv/all: houseId as int (Android), string (iOS) or absent. */
export const cctvAllBody = z.object({ houseId: numericId.nullish().transform((v) => v ?? undefined) });

/** Address and camera routes of the apps' API. */
export function addressRoutes(sy: SmartyardDeps) {
  const auth = appAuth(sy);
  const empty = z.object({});
  return new Hono<SyEnv>()
    .post("/address/getAddressList", auth, async (c) => {
      await readJson(c, empty);
      return ok(c, await addressList(sy, caller(c)));
    })
    .post("/address/getSettingsList", auth, async (c) => {
      await readJson(c, empty);
      return ok(c, await settingsList(sy, caller(c)));
    })
    .post("/address/openDoor", auth, async (c) => {
      await openDoor(sy, caller(c), await readJson(c, openDoorBody));
      return ok(c);
    })
    .post("/cctv/all", auth, async (c) => {
      return ok(c, await cameraList(sy, caller(c), await readJson(c, cctvAllBody)));
    })
    .post("/cctv/camMap", auth, async (c) => {
      await readJson(c, empty);
      return ok(c, await camMap(sy, caller(c)));
    })
    .post("/cctv/overview", auth, async (c) => {
      await readJson(c, empty);
      return ok(c, await cameraList(sy, caller(c), {}));
    });
}
