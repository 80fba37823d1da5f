/**
 * The firmware catalog: publish, list, change, pause, yank releases, and their rollout statistics.
 *
 * Yank semantics: `DELETE /api/v1/firmware/:id` and `PATCH {"yanked": true}` are the same soft delete.
 * The row stays (its offers and stats remain readable and its (device_type, version) stays taken, so a
 * yanked build can never come back under the same version by accident); devices stop being offered it
 * at once. `PATCH {"yanked": false}` restores it. Nothing is ever hard-deleted through the API.
 */
import { and, asc, count, eq, gte, isNotNull, isNull, sql, sum } from "drizzle-orm";
import { firmwareReleases, fotaDevices, fotaDeviceVersions, fotaOffers } from "../../db/schema.ts";
import { enqueueEvent } from "../webhooks/outbox.ts";
import type { Deps } from "../deps.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { compareVersions, parseVersion, type Version, versionKey, versionSortKey } from "./version.ts";

/** A release row as stored. */
export type Release = typeof firmwareReleases.$inferSelect;

/** Download URL schemes a release may use (legacy trackers fetch over FTP, everything else HTTP(S)). */
export const DOWNLOAD_SCHEMES = ["http:", "https:", "ftp:"] as const;

/** Why a download URL is unacceptable, or null when it is fine. */
export function downloadUrlProblem(input: string): string | null {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return "must be an absolute URL";
  }
  if (!(DOWNLOAD_SCHEMES as readonly string[]).includes(url.protocol)) {
    return "must be an http, https or ftp URL";
  }
  if (!url.hostname) return "must name a host";
  // Credentials would sit in clear in the database and in every answer to every device.
  if (url.username || url.password) return "must not carry credentials (user:password@)";
  return null;
}

/** The fields of a new release, already shape-checked by the route. */
export interface NewRelease {
  device_type: string;
  version: string;
  url: string;
  sha256: string;
  size: number;
  md5?: string | null;
  rollout_percent?: number;
  min_version?: string | null;
  notes?: string | null;
  paused?: boolean;
}

/** What may change on a published release; the artifact itself (version, url hash, size) may not. */
export interface ReleasePatch {
  url?: string;
  rollout_percent?: number;
  min_version?: string | null;
  notes?: string | null;
  paused?: boolean;
  yanked?: boolean;
}

/** The public JSON shape of a release. */
export function releaseJson(r: Release) {
  return {
    id: r.id,
    device_type: r.deviceType,
    version: r.version,
    url: r.url,
    sha256: r.sha256,
    md5: r.md5,
    size: r.size,
    rollout_percent: r.rolloutPercent,
    min_version: r.minVersion,
    notes: r.notes,
    paused: r.paused,
    yanked: r.yankedAt !== null,
    yanked_at: r.yankedAt?.toISOString() ?? null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

function mustParse(value: string, field: string): Version {
  const v = parseVersion(value);
  if (!v) {
    throw new ValidationError([{
      field,
      message: `"${value}" is not a version (e.g. 1.4.2 or 1.4.2-beta.1)`,
    }]);
  }
  return v;
}

function checkMinVersion(version: Version, minVersion: string | null | undefined): void {
  if (minVersion == null) return;
  const min = mustParse(minVersion, "min_version");
  if (compareVersions(min, version) >= 0) {
    throw new ValidationError([{
      field: "min_version",
      message: `must be lower than the release's own version ${version.raw}: no device could ever receive it`,
    }]);
  }
}

function checkUrl(url: string): void {
  const problem = downloadUrlProblem(url);
  if (problem) throw new ValidationError([{ field: "url", message: problem }]);
}

/** Publishes a release; 409 when the device type already has that version (yanked ones included). */
export async function createRelease(
  deps: Pick<Deps, "db" | "clock" | "events">,
  input: NewRelease,
): Promise<Release> {
  const version = mustParse(input.version, "version");
  checkMinVersion(version, input.min_version);
  checkUrl(input.url);
  const now = deps.clock.now();
  // webhooks: the release and its firmware.released message commit together
  const [row] = await deps.db.transaction(async (tx) => {
    const rows = await tx.insert(firmwareReleases).values({
      deviceType: input.device_type,
      version: version.raw,
      versionKey: versionKey(version),
      sortKey: versionSortKey(version),
      url: input.url,
      sha256: input.sha256.toLowerCase(),
      md5: input.md5?.toLowerCase() ?? null,
      size: input.size,
      rolloutPercent: input.rollout_percent ?? 100,
      minVersion: input.min_version?.trim() ?? null,
      notes: input.notes ?? null,
      paused: input.paused ?? false,
      createdAt: now,
      updatedAt: now,
    }).onConflictDoNothing().returning();
    if (rows[0]) await enqueueEvent(tx, { type: "firmware.released", data: eventData(rows[0]) }, now);
    return rows;
  });
  if (!row) {
    const [existing] = await deps.db.select({ id: firmwareReleases.id, yankedAt: firmwareReleases.yankedAt })
      .from(firmwareReleases)
      .where(
        and(
          eq(firmwareReleases.deviceType, input.device_type),
          eq(firmwareReleases.versionKey, versionKey(version)),
        ),
      );
    throw new ConflictError(
      `Firmware ${input.version} for ${input.device_type} already exists${
        existing?.yankedAt
          ? ' (yanked; restore it with PATCH {"yanked": false} or publish a new version)'
          : ""
      }`,
      { existing_id: existing?.id },
    );
  }
  deps.events.emit("firmware.released", eventData(row), now);
  return row;
}

/** Releases, newest version first within each device type; yanked ones only when asked. */
export async function listReleases(
  deps: Pick<Deps, "db">,
  filter: { deviceType?: string; includeYanked?: boolean } = {},
): Promise<Release[]> {
  const where = and(
    filter.deviceType === undefined ? undefined : eq(firmwareReleases.deviceType, filter.deviceType),
    filter.includeYanked ? undefined : isNull(firmwareReleases.yankedAt),
  );
  const rows = await deps.db.select().from(firmwareReleases).where(where).orderBy(
    asc(firmwareReleases.deviceType),
  );
  return sortNewestFirst(rows);
}

/** Sorts by device type, then by version, newest first. */
export function sortNewestFirst(rows: Release[]): Release[] {
  const parsed = rows.map((r) => ({ r, v: parseVersion(r.version)! }));
  parsed.sort((a, b) =>
    a.r.deviceType < b.r.deviceType ? -1 : a.r.deviceType > b.r.deviceType ? 1 : compareVersions(b.v, a.v)
  );
  return parsed.map((p) => p.r);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One release by id (yanked ones too); 404 when there is none. */
export async function getRelease(deps: Pick<Deps, "db">, id: string): Promise<Release> {
  const [row] = UUID.test(id)
    ? await deps.db.select().from(firmwareReleases).where(eq(firmwareReleases.id, id))
    : [];
  if (!row) throw new NotFoundError(`No firmware release ${id}`);
  return row;
}

/** Changes rollout, pause, yank, notes, min_version or the download URL of a release. */
export async function updateRelease(
  deps: Pick<Deps, "db" | "clock" | "events">,
  id: string,
  patch: ReleasePatch,
): Promise<Release> {
  const current = await getRelease(deps, id);
  if (patch.min_version !== undefined) {
    checkMinVersion(mustParse(current.version, "version"), patch.min_version);
  }
  if (patch.url !== undefined) checkUrl(patch.url);
  const now = deps.clock.now();
  const set: Partial<typeof firmwareReleases.$inferInsert> = { updatedAt: now };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.rollout_percent !== undefined) set.rolloutPercent = patch.rollout_percent;
  if (patch.min_version !== undefined) set.minVersion = patch.min_version?.trim() ?? null;
  if (patch.notes !== undefined) set.notes = patch.notes;
  if (patch.paused !== undefined) set.paused = patch.paused;
  if (patch.yanked !== undefined) {
    // Keep the first yank time when yanking twice.
    set.yankedAt = patch.yanked ? (current.yankedAt ?? now) : null;
  }
  const [row] = await deps.db.update(firmwareReleases).set(set).where(eq(firmwareReleases.id, id))
    .returning();
  if (!row) throw new NotFoundError(`No firmware release ${id}`);
  if (patch.yanked === true && !current.yankedAt) deps.events.emit("firmware.yanked", eventData(row), now);
  else if (patch.yanked === false && current.yankedAt) {
    deps.events.emit("firmware.restored", eventData(row), now);
  }
  const changed = Object.keys(patch).filter((k) => k !== "yanked");
  if (changed.length) deps.events.emit("firmware.updated", { ...eventData(row), changed }, now);
  return row;
}

/** The soft delete behind `DELETE /api/v1/firmware/:id`; idempotent. */
export async function yankRelease(deps: Pick<Deps, "db" | "clock" | "events">, id: string): Promise<Release> {
  return await updateRelease(deps, id, { yanked: true });
}

function eventData(r: Release) {
  return {
    release_id: r.id,
    device_type: r.deviceType,
    version: r.version,
    rollout_percent: r.rolloutPercent,
    paused: r.paused,
    yanked: r.yankedAt !== null,
  };
}

/** Rollout statistics of a release. */
export interface ReleaseStats {
  release_id: string;
  device_type: string;
  version: string;
  rollout_percent: number;
  paused: boolean;
  yanked: boolean;
  /** Distinct devices this release was offered to. */
  offered_devices: number;
  /** Offers made in total (a device that polls again before installing is offered again). */
  offers: number;
  /** Offered devices that afterwards reported running this version. */
  updated_devices: number;
  /** Devices it applied to but that were refused it (e.g. too big for the ESP's free space) and never offered it. */
  refused_devices: number;
  /** Devices whose latest check reports this version, however they got it. */
  running_devices: number;
}

/** Offered vs. later-reported-running counts for one release. */
export async function releaseStats(deps: Pick<Deps, "db">, id: string): Promise<ReleaseStats> {
  const r = await getRelease(deps, id);
  const [offered] = await deps.db.select({
    devices: count(fotaOffers.firstOfferedAt),
    offers: sum(fotaOffers.offers),
    refused: sql<
      number
    >`count(*) filter (where ${fotaOffers.firstOfferedAt} is null and ${fotaOffers.refusals} > 0)`
      .mapWith(Number),
  }).from(fotaOffers).where(eq(fotaOffers.releaseId, r.id));
  const [updated] = await deps.db.select({ n: count() }).from(fotaOffers)
    .innerJoin(
      fotaDeviceVersions,
      and(
        eq(fotaDeviceVersions.deviceId, fotaOffers.deviceId),
        eq(fotaDeviceVersions.deviceType, r.deviceType),
        eq(fotaDeviceVersions.versionKey, r.versionKey),
      ),
    )
    .where(and(
      eq(fotaOffers.releaseId, r.id),
      isNotNull(fotaOffers.firstOfferedAt),
      gte(fotaDeviceVersions.lastReportedAt, fotaOffers.firstOfferedAt),
    ));
  const [running] = await deps.db.select({ n: count() }).from(fotaDevices)
    .where(and(eq(fotaDevices.deviceType, r.deviceType), eq(fotaDevices.versionKey, r.versionKey)));
  return {
    ...eventData(r),
    offered_devices: offered.devices,
    offers: Number(offered.offers ?? 0),
    updated_devices: updated.n,
    refused_devices: offered.refused,
    running_devices: running.n,
  };
}
