/**
 * What media servers send when they ask whether a viewer may play a stream, and how a Flussonic check
 * is answered (shared by GET /api/v1/media/auth and the old server's GET /api/accessfl).
 */
import type { Deps } from "../deps.ts";
import type { CameraAuth } from "./media_auth.ts";

/** A Flussonic play check as answered: 200 with its headers, or a 403 deny (empty body either way). */
export interface FlussonicAnswer {
  status: 200 | 403;
  headers: Record<string, string>;
}

/**
 * Decides a Flussonic play check from the two parameters that matter: `token` (Flussonic passes the play
 * URL's `?token=`; older setups only forward the whole query as `qs`) and the stream `name`.
 */
export async function flussonicCheck(
  deps: Pick<Deps, "log">,
  auth: CameraAuth,
  request: { token?: string; qs?: string; name?: string; path: string },
): Promise<FlussonicAnswer> {
  const d = await auth.check(request.token || tokenFromQuery(request.qs), request.name);
  if (!d.allow) {
    deps.log.debug("media auth denied", { backend: "flussonic", reason: d.reason, path: request.path });
    return { status: 403, headers: {} };
  }
  const headers: Record<string, string> = { "x-authduration": String(d.durationS), "x-userid": d.userId };
  if (d.maxSessions > 0) headers["x-max-sessions"] = String(d.maxSessions);
  return { status: 200, headers };
}

/** The `token` parameter of a raw query string (with or without the leading `?`). */
export function tokenFromQuery(query: string | undefined): string | undefined {
  if (!query) return undefined;
  return new URLSearchParams(query.startsWith("?") ? query.slice(1) : query).get("token") ?? undefined;
}

/** Token and stream from nginx's X-Original-URI (`/<stream>/index.m3u8?token=…`); missing parts stay empty. */
export function parseOriginalUri(uri: string | undefined): { token?: string; stream?: string } {
  if (!uri || !uri.startsWith("/")) return {};
  const q = uri.indexOf("?");
  const path = q < 0 ? uri : uri.slice(0, q);
  const token = q < 0 ? undefined : tokenFromQuery(uri.slice(q + 1));
  const first = path.split("/")[1];
  let stream: string | undefined;
  try {
    stream = first ? decodeURIComponent(first) : undefined;
  } catch {
    stream = undefined; // malformed percent-encoding: no stream, so a deny
  }
  return { token, stream };
}
