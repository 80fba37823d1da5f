/**
 * Update checks: which release (if any) a device should install next, and the record of every check.
 *
 * Selection, for a device of type T running version V (paused and yanked releases never take part):
 * 1. only releases of T strictly newer than V (never a downgrade, never the same version);
 * 2. newest first, the first release that the device is eligible for wins, where eligible means
 *    - V >= the release's `min_version` (else the device must hop through an older release first), and
 *    - the device's stable bucket for that release is below its `rollout_percent`.
 * So a device outside the newest release's rollout falls back to the newest release it IS eligible for
 * (the Memfault / hawkBit behaviour) rather than getting nothing; it moves up once the rollout reaches it.
 * No device registry or claim is needed: checks are keyed by the device's own id (IMEI or STA MAC).
 */
import { and, eq, isNotNull, isNull, lte, sql } from "drizzle-orm";
import { firmwareReleases, fotaDevices, fotaDeviceVersions, fotaOffers } from "../../db/schema.ts";
import { enqueueEvent } from "../webhooks/outbox.ts";
import type { Deps } from "../deps.ts";
import { ValidationError } from "../errors.ts";
import type { Release } from "./catalog.ts";
import { inRollout } from "./rollout.ts";
import {
  compareVersions,
  parseReportedVersion,
  parseVersion,
  type Version,
  versionKey,
  versionSortKey,
} from "./version.ts";

/** Which route a check came through. */
export type CheckSource = "api" | "legacy" | "esp";

/** One device's update check. */
export interface CheckInput {
  deviceType: string;
  /** IMEI for trackers, STA MAC for ESP boards; already normalised by the route. */
  deviceId: string;
  version: string;
  /** The request field the version came from, named in the 422 when it does not parse. */
  versionField?: string;
  source: CheckSource;
  serial?: string;
  revision?: string;
  /** Free sketch space the device reported (ESP); a bigger release is refused rather than offered. */
  freeSpace?: number;
  /** Hash of the running image as the device reported it, e.g. `md5:…`; recorded only. */
  sketchHash?: string;
  /** URL schemes the device can download from; a release elsewhere is refused. Any scheme when unset. */
  schemes?: readonly string[];
}

/** The release columns a check reads: only these are loaded, as decoding whole rows dominated on PGlite. */
const CHECK_COLUMNS = {
  id: firmwareReleases.id,
  deviceType: firmwareReleases.deviceType,
  version: firmwareReleases.version,
  minVersion: firmwareReleases.minVersion,
  rolloutPercent: firmwareReleases.rolloutPercent,
  url: firmwareReleases.url,
  sha256: firmwareReleases.sha256,
  md5: firmwareReleases.md5,
  size: firmwareReleases.size,
};

/** A release as a check sees it. */
export type OfferableRelease = Pick<Release, keyof typeof CHECK_COLUMNS>;

/** What a check decided. */
export type CheckOutcome =
  | { result: "offered"; release: OfferableRelease }
  | { result: "none"; reason: NoUpdateReason }
  | { result: "refused"; release: OfferableRelease; reason: string };

/**
 * Why no release applies: nothing newer, something newer the device may not have yet, or (old trackers only)
 * a firmware string that neither parses as a version nor matches FOTA_VERSION_PATTERN.
 */
export type NoUpdateReason = "up_to_date" | "below_min_version" | "outside_rollout" | "unrecognised_version";

/** The release fields selection looks at. */
export interface Selectable {
  id: string;
  version: string;
  minVersion: string | null;
  rolloutPercent: number;
}

/** Picks the release a device should install next from offerable releases of its type (pure). */
export function selectRelease<T extends Selectable>(
  releases: readonly T[],
  device: { id: string; version: Version },
): { release: T; reason?: undefined } | { release: null; reason: NoUpdateReason } {
  const newer = releases
    .map((r) => ({ r, v: parseVersion(r.version) }))
    .filter((x): x is { r: T; v: Version } => x.v !== null && compareVersions(x.v, device.version) > 0)
    .sort((a, b) => compareVersions(b.v, a.v));
  if (!newer.length) return { release: null, reason: "up_to_date" };
  let blockedByMin = false;
  for (const { r } of newer) {
    const min = r.minVersion ? parseVersion(r.minVersion) : null;
    if (min && compareVersions(device.version, min) < 0) {
      blockedByMin = true;
      continue;
    }
    if (inRollout(device.id, r.id, r.rolloutPercent)) return { release: r };
  }
  return { release: null, reason: blockedByMin ? "below_min_version" : "outside_rollout" };
}

/**
 * Answers a device's update check and records it (latest state, version history, offers). A firmware
 * string that is not a version (after FOTA_VERSION_PATTERN) is a 422 for the API and ESP routes, whose
 * clients can be fixed; an old tracker (`legacy`) cannot, so it gets "no update" (`unrecognised_version`,
 * recorded for operators) rather than an error it would retry on every poll, and never a guess.
 */
export async function checkForUpdate(
  deps: Pick<Deps, "db" | "clock" | "events" | "config">,
  input: CheckInput,
): Promise<CheckOutcome> {
  const current = parseReportedVersion(input.version, deps.config.FOTA_VERSION_PATTERN);
  if (!current) {
    if (input.source === "legacy") {
      const outcome: CheckOutcome = { result: "none", reason: "unrecognised_version" };
      const raw = input.version.trim();
      // Release keys hold only [0-9A-Za-z.-], so this key never matches one (no false "updated" event).
      await record(deps, input, { raw, key: `unrecognised:${raw}` }, outcome);
      return outcome;
    }
    const hint = deps.config.FOTA_VERSION_PATTERN ? " and does not match FOTA_VERSION_PATTERN" : "";
    throw new ValidationError([{
      field: input.versionField ?? "version",
      message: `"${input.version.slice(0, 80)}" is not a version (e.g. 1.4.2 or 1.4.2-beta.1)${hint}`,
    }]);
  }
  const offerable = await deps.db.select(CHECK_COLUMNS).from(firmwareReleases).where(and(
    eq(firmwareReleases.deviceType, input.deviceType),
    isNull(firmwareReleases.yankedAt),
    eq(firmwareReleases.paused, false),
    // Only newer releases can be offered; the catalog keeps every old and yanked one forever.
    sql`${firmwareReleases.sortKey} collate "C" > ${versionSortKey(current)}`,
  ));
  const picked = selectRelease(offerable, { id: input.deviceId, version: current });
  let outcome: CheckOutcome;
  if (!picked.release) {
    outcome = { result: "none", reason: picked.reason };
  } else {
    const refusal = refusalReason(picked.release, input);
    outcome = refusal
      ? { result: "refused", release: picked.release, reason: refusal }
      : { result: "offered", release: picked.release };
  }
  await record(deps, input, { raw: current.raw, key: versionKey(current) }, outcome);
  return outcome;
}

function refusalReason(release: OfferableRelease, input: CheckInput): string | null {
  if (input.schemes) {
    const scheme = new URL(release.url).protocol;
    if (!input.schemes.includes(scheme)) {
      return `url_scheme: ${input.source} devices cannot download ${scheme} URLs`;
    }
  }
  if (input.freeSpace !== undefined && release.size > input.freeSpace) {
    return `insufficient_space: ${release.version} needs ${release.size} bytes, device has ${input.freeSpace} free`;
  }
  return null;
}

/** `reported`: the firmware string as sent, and the key it is matched to releases by. */
async function record(
  deps: Pick<Deps, "db" | "clock" | "events">,
  input: CheckInput,
  reported: { raw: string; key: string },
  outcome: CheckOutcome,
): Promise<void> {
  const now = deps.clock.now();
  const key = reported.key;
  const release = outcome.result === "none" ? null : outcome.release;
  let firstOffer = false;
  let newVersion = false;
  const offeredData = () => ({
    device_id: input.deviceId,
    device_type: input.deviceType,
    from_version: reported.raw,
    release_id: release!.id,
    version: release!.version,
  });
  await deps.db.transaction(async (tx) => {
    // Check records are telemetry that the next poll re-sends: not worth waiting for the WAL flush (a crash
    // can lose the last fraction of a second of them, never consistency). Halved a check on Postgres in
    // bench/fota_check.ts (13.4 → 6.1 ms median). Catalog writes keep full durability.
    await tx.execute(sql`set local synchronous_commit = off`);
    const state = {
      deviceType: input.deviceType,
      version: reported.raw,
      versionKey: key,
      source: input.source,
      serial: input.serial ?? null,
      revision: input.revision ?? null,
      freeSpace: input.freeSpace ?? null,
      sketchHash: input.sketchHash ?? null,
      lastResult: outcome.result,
      lastReason: outcome.result === "offered" ? null : outcome.reason,
      lastReleaseId: release?.id ?? null,
      lastCheckAt: now,
    };
    await tx.insert(fotaDevices).values({ deviceId: input.deviceId, firstSeenAt: now, ...state })
      .onConflictDoUpdate({ target: fotaDevices.deviceId, set: state });

    // Most checks repeat the version already on record, so try the cheap update first.
    const seen = await tx.update(fotaDeviceVersions).set({ lastReportedAt: now }).where(and(
      eq(fotaDeviceVersions.deviceId, input.deviceId),
      eq(fotaDeviceVersions.deviceType, input.deviceType),
      eq(fotaDeviceVersions.versionKey, key),
    )).returning({ id: fotaDeviceVersions.id });
    if (!seen.length) {
      const inserted = await tx.insert(fotaDeviceVersions).values({
        deviceId: input.deviceId,
        deviceType: input.deviceType,
        versionKey: key,
        firstReportedAt: now,
        lastReportedAt: now,
      }).onConflictDoUpdate({
        target: [fotaDeviceVersions.deviceId, fotaDeviceVersions.deviceType, fotaDeviceVersions.versionKey],
        set: { lastReportedAt: now },
      }).returning({ first: fotaDeviceVersions.firstReportedAt });
      newVersion = inserted[0]?.first.getTime() === now.getTime();
    }

    if (outcome.result === "offered") {
      const [row] = await tx.insert(fotaOffers).values({
        releaseId: outcome.release.id,
        deviceId: input.deviceId,
        offers: 1,
        firstOfferedAt: now,
        lastOfferedAt: now,
      }).onConflictDoUpdate({
        target: [fotaOffers.releaseId, fotaOffers.deviceId],
        set: {
          offers: sql`${fotaOffers.offers} + 1`,
          // `excluded` rather than a Date parameter: postgres.js does not serialise Dates inside raw sql.
          firstOfferedAt: sql`coalesce(${fotaOffers.firstOfferedAt}, excluded.first_offered_at)`,
          lastOfferedAt: now,
        },
      }).returning({ offers: fotaOffers.offers });
      firstOffer = row.offers === 1;
      // webhooks: the first offer of a release to a device, with the offer row
      if (firstOffer) await enqueueEvent(tx, { type: "firmware.offered", data: offeredData() }, now);
    } else if (outcome.result === "refused") {
      await tx.insert(fotaOffers).values({
        releaseId: outcome.release.id,
        deviceId: input.deviceId,
        refusals: 1,
        lastRefusedAt: now,
        lastRefusalReason: outcome.reason,
      }).onConflictDoUpdate({
        target: [fotaOffers.releaseId, fotaOffers.deviceId],
        set: {
          refusals: sql`${fotaOffers.refusals} + 1`,
          lastRefusedAt: now,
          lastRefusalReason: outcome.reason,
        },
      });
    }
  });

  if (outcome.result === "offered" && firstOffer) deps.events.emit("fota.offered", offeredData(), now);
  if (newVersion) {
    // The device now runs a version it was offered earlier: the update went through.
    const installed = await deps.db.select({ releaseId: fotaOffers.releaseId }).from(fotaOffers)
      .innerJoin(firmwareReleases, eq(firmwareReleases.id, fotaOffers.releaseId))
      .where(and(
        eq(fotaOffers.deviceId, input.deviceId),
        eq(firmwareReleases.deviceType, input.deviceType),
        eq(firmwareReleases.versionKey, key),
        isNotNull(fotaOffers.firstOfferedAt),
        lte(fotaOffers.firstOfferedAt, now),
      ));
    for (const { releaseId } of installed) {
      deps.events.emit("fota.updated", {
        device_id: input.deviceId,
        device_type: input.deviceType,
        release_id: releaseId,
        version: reported.raw,
      }, now);
    }
  }
}

/** The recorded state of one device's latest check, for operators; null when it never checked. */
export async function deviceCheckState(deps: Pick<Deps, "db">, deviceId: string) {
  const [row] = await deps.db.select().from(fotaDevices).where(eq(fotaDevices.deviceId, deviceId));
  if (!row) return null;
  return {
    device_id: row.deviceId,
    device_type: row.deviceType,
    version: row.version,
    source: row.source,
    serial: row.serial,
    revision: row.revision,
    free_space: row.freeSpace,
    sketch_hash: row.sketchHash,
    last_result: row.lastResult,
    last_reason: row.lastReason,
    last_release_id: row.lastReleaseId,
    first_seen_at: row.firstSeenAt.toISOString(),
    last_check_at: row.lastCheckAt.toISOString(),
  };
}
