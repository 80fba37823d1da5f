/** What the apps store and read about the user and the service: names, push tokens, switches, versions, options. */
import { eq } from "drizzle-orm";
import { smartyardProfiles, smartyardPushTokens } from "../../db/schema.ts";
import type { Config } from "../config.ts";
import type { Deps } from "../deps.ts";
import type { AppUser } from "./app_tokens.ts";

/** The apps' boolean: the strings "t" and "f". */
export type Tf = "t" | "f";

/** "t" or "f". */
export function tf(value: boolean): Tf {
  return value ? "t" : "f";
}

/** The user's name and patronymic, when they sent one (user/sendName). */
export async function profileNames(
  deps: Pick<Deps, "db">,
  userId: string,
): Promise<{ name: string; patronymic: string } | undefined> {
  const [row] = await deps.db.select().from(smartyardProfiles).where(eq(smartyardProfiles.userId, userId));
  if (!row?.name) return undefined;
  return { name: row.name, patronymic: row.patronymic ?? "" };
}

/** Stores the name the user typed (user/sendName). */
export async function saveName(
  deps: Pick<Deps, "db" | "clock">,
  user: AppUser,
  input: { name: string; patronymic?: string },
): Promise<void> {
  const now = deps.clock.now();
  const set = { name: input.name, patronymic: input.patronymic ?? null, updatedAt: now };
  await deps.db.insert(smartyardProfiles).values({ userId: user.userId, ...set })
    .onConflictDoUpdate({ target: smartyardProfiles.userId, set });
}

/** Reads and, for the fields given, changes the notification switches (user/notification). */
export async function notificationSettings(
  deps: Pick<Deps, "db" | "clock">,
  user: AppUser,
  input: { money?: boolean; enable?: boolean },
): Promise<{ money: Tf; enable: Tf }> {
  const now = deps.clock.now();
  const set: { updatedAt: Date; notifyMoney?: boolean; notifyEnable?: boolean } = { updatedAt: now };
  if (input.money !== undefined) set.notifyMoney = input.money;
  if (input.enable !== undefined) set.notifyEnable = input.enable;
  const [row] = await deps.db.insert(smartyardProfiles).values({ userId: user.userId, ...set })
    .onConflictDoUpdate({ target: smartyardProfiles.userId, set }).returning();
  return { money: tf(row.notifyMoney), enable: tf(row.notifyEnable) };
}

/** A device's push registration (user/registerPushToken), one per login session. */
export interface PushRegistration {
  pushToken: string;
  platform: string;
  pushService?: string;
  voipToken?: string;
  type?: number;
  production?: boolean;
}

/** Stores (or replaces) the push registration of the caller's login session. */
export async function registerPushToken(
  deps: Pick<Deps, "db" | "clock">,
  user: AppUser,
  input: PushRegistration,
): Promise<void> {
  const set = {
    userId: user.userId,
    platform: input.platform,
    pushToken: input.pushToken,
    pushService: input.pushService ?? null,
    voipToken: input.voipToken ?? null,
    tokenType: input.type ?? null,
    production: input.production ?? null,
    updatedAt: deps.clock.now(),
  };
  await deps.db.insert(smartyardPushTokens).values({ sessionId: user.sessionId, ...set })
    .onConflictDoUpdate({ target: smartyardPushTokens.sessionId, set });
}

/** Compares dotted numeric versions ("2.10" > "2.9"; "3" = "3.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** What the app should do about its version (user/appVersion), from the configured minimum and latest. */
export function appVersionAdvice(
  config: Config,
  input: { version: string; platform: "android" | "ios" },
): "none" | "upgrade" | "force_upgrade" {
  const [min, latest] = input.platform === "android"
    ? [config.SMARTYARD_MIN_VERSION_ANDROID, config.SMARTYARD_LATEST_VERSION_ANDROID]
    : [config.SMARTYARD_MIN_VERSION_IOS, config.SMARTYARD_LATEST_VERSION_IOS];
  if (min && compareVersions(input.version, min) < 0) return "force_upgrade";
  if (latest && compareVersions(input.version, latest) < 0) return "upgrade";
  return "none";
}

/** The apps' feature switches (ext/options); the Android app shows its Pay tab only with `payments: "t"`. */
export function appOptions(config: Config, paymentsAvailable: boolean) {
  return {
    payments: tf(paymentsAvailable),
    cityCams: tf(false),
    chat: tf(false),
    timeZone: config.SMARTYARD_TIME_ZONE,
    ...(config.SMARTYARD_SUPPORT_PHONE ? { supportPhone: config.SMARTYARD_SUPPORT_PHONE } : {}),
    cctvView: "list",
    activeTab: "addresses",
    guestAccess: "turnOnOnly",
  };
}
