/** The firmware catalog (admin API key): /api/v1/firmware[/:id[/stats]]. */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import type { Deps } from "../src/deps.ts";
import {
  createRelease,
  downloadUrlProblem,
  getRelease,
  listReleases,
  releaseJson,
  releaseStats,
  updateRelease,
  yankRelease,
} from "../src/fota/catalog.ts";
import { deviceTypeSchema } from "../src/fota/devices.ts";
import { isVersion, MAX_VERSION_LENGTH } from "../src/fota/version.ts";
import { type AppEnv, validate } from "../src/http.ts";

// One check so an empty or over-long string gets one error, not two.
const versionSchema = z.string().trim().refine(
  isVersion,
  `is not a version (e.g. 1.4.2, v1.4.2, 1.4.2-beta.1 or 1.4; at most ${MAX_VERSION_LENGTH} characters)`,
);
const urlSchema = z.string().trim().max(2048).superRefine((s, ctx) => {
  const problem = downloadUrlProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const percentSchema = z.number().int().min(0).max(100);
const immutable = z.unknown()
  .refine(() => false, "cannot change on a published release; publish a new version instead")
  .optional();

/** The body of `POST /api/v1/firmware`. */
export const createReleaseBody = z.object({
  device_type: deviceTypeSchema,
  version: versionSchema,
  url: urlSchema,
  sha256: z.string().trim().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits"),
  size: z.number().int().positive().max(2 ** 31 - 1),
  md5: z.string().trim().regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits").nullable().optional(),
  rollout_percent: percentSchema.optional(),
  min_version: versionSchema.nullable().optional(),
  notes: z.string().max(4000).nullable().optional(),
  paused: z.boolean().optional(),
});

/** The body of `PATCH /api/v1/firmware/:id`: rollout, pause, yank, notes, min_version, mirror URL. */
export const patchReleaseBody = z.strictObject({
  url: urlSchema.optional(),
  rollout_percent: percentSchema.optional(),
  min_version: versionSchema.nullable().optional(),
  notes: z.string().max(4000).nullable().optional(),
  paused: z.boolean().optional(),
  yanked: z.boolean().optional(),
  device_type: immutable,
  version: immutable,
  sha256: immutable,
  md5: immutable,
  size: immutable,
});

const listQuery = z.object({
  device_type: deviceTypeSchema.optional(),
  include_yanked: z.enum(["true", "false", "1", "0"]).optional(),
});

/** Catalog routes; every one needs an admin API key. */
export function firmwareRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .use(requireAuth(deps, ["admin"]))
    .post("/", validate("json", createReleaseBody), async (c) => {
      const release = await createRelease(deps, c.req.valid("json"));
      c.header("location", `/api/v1/firmware/${release.id}`);
      return c.json(releaseJson(release), 201);
    })
    .get("/", validate("query", listQuery), async (c) => {
      const q = c.req.valid("query");
      const rows = await listReleases(deps, {
        deviceType: q.device_type,
        includeYanked: q.include_yanked === "true" || q.include_yanked === "1",
      });
      return c.json({ releases: rows.map(releaseJson) });
    })
    .get("/:id", async (c) => c.json(releaseJson(await getRelease(deps, c.req.param("id")))))
    .patch("/:id", validate("json", patchReleaseBody), async (c) => {
      return c.json(releaseJson(await updateRelease(deps, c.req.param("id"), c.req.valid("json"))));
    })
    .delete("/:id", async (c) => c.json(releaseJson(await yankRelease(deps, c.req.param("id")))))
    .get("/:id/stats", async (c) => c.json(await releaseStats(deps, c.req.param("id"))));
}
