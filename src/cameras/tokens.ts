/** Camera tokens: short JWTs for media servers, bound to a user, their login session and their cameras. */
import { decodeJwt } from "jose";
import { Buffer } from "node:buffer";
import type { Config } from "../config.ts";
import type { Deps } from "../deps.ts";
import { type Camera, userCameras } from "./cameras.ts";

/**
 * The audience of camera tokens. Access tokens carry another one (JWT_AUDIENCE), so neither kind of
 * token is accepted where the other is expected, though both are signed with JWT_SECRET.
 */
export const CAMERA_TOKEN_AUDIENCE = "gatehouse-media";

/** A camera token and when it stops working. */
export interface IssuedCameraToken {
  token: string;
  expires_at: string;
}

/** A camera in a user's list: where to play it, with the token already in the URLs. */
export interface UserCamera {
  id: string;
  stream: string;
  title: string;
  location: string | null;
  urls: Record<string, string>;
}

/** A camera id in 22 URL-safe characters instead of 36, since tokens travel in play URLs. */
export function packId(uuid: string): string {
  return Buffer.from(uuid.replaceAll("-", ""), "hex").toString("base64url");
}

/** Signs a camera token for `cameraIds`, valid for CAMERA_TOKEN_TTL_MIN minutes. */
export async function signCameraToken(
  deps: Pick<Deps, "jwt" | "config" | "clock" | "events">,
  input: { userId: string; sessionId: string; cameraIds: string[] },
): Promise<IssuedCameraToken> {
  const ttlS = deps.config.CAMERA_TOKEN_TTL_MIN * 60;
  const token = await deps.jwt.sign(
    { sub: input.userId, sid: input.sessionId, cams: input.cameraIds.map(packId) },
    ttlS,
    CAMERA_TOKEN_AUDIENCE,
  );
  const exp = decodeJwt(token).exp! * 1000; // the expiry the token itself carries
  deps.events.emit("camera.token_issued", {
    user_id: input.userId,
    session_id: input.sessionId,
    cameras: input.cameraIds.length,
  });
  return { token, expires_at: new Date(exp).toISOString() };
}

/** The user's cameras with a fresh token for exactly those cameras, and their play URLs. */
export async function cameraListWithToken(
  deps: Pick<Deps, "db" | "jwt" | "config" | "clock" | "events">,
  principal: { userId: string; sessionId: string },
): Promise<IssuedCameraToken & { cameras: UserCamera[] }> {
  const list = await userCameras(deps, principal.userId);
  const issued = await signCameraToken(deps, { ...principal, cameraIds: list.map((c) => c.id) });
  return {
    ...issued,
    cameras: list.map((c: Camera) => ({
      id: c.id,
      stream: c.stream,
      title: c.title,
      location: c.location,
      urls: playUrls(deps.config, c.stream, issued.token),
    })),
  };
}

/** A fresh token for the user's current cameras, without the list (renewal while a viewer plays). */
export async function renewCameraToken(
  deps: Pick<Deps, "db" | "jwt" | "config" | "clock" | "events">,
  principal: { userId: string; sessionId: string },
): Promise<IssuedCameraToken> {
  const list = await userCameras(deps, principal.userId);
  return await signCameraToken(deps, { ...principal, cameraIds: list.map((c) => c.id) });
}

/** Play URLs from the MEDIA_*_TEMPLATE settings: `{base}`, `{stream}` and `{token}` are filled in. */
export function playUrls(config: Config, stream: string, token: string): Record<string, string> {
  const templates: [string, string | undefined][] = [
    ["hls", config.MEDIA_HLS_TEMPLATE],
    ["dash", config.MEDIA_DASH_TEMPLATE],
    ["rtsp", config.MEDIA_RTSP_TEMPLATE],
    ["preview", config.MEDIA_PREVIEW_TEMPLATE],
  ];
  const urls: Record<string, string> = {};
  for (const [kind, template] of templates) {
    if (!template) continue;
    urls[kind] = template.replaceAll("{base}", config.MEDIA_BASE_URL)
      .replaceAll("{stream}", encodeURIComponent(stream))
      .replaceAll("{token}", encodeURIComponent(token));
  }
  return urls;
}
