/** Shared steps of the camera and media-auth tests. */
import type { Db } from "../db/client.ts";
import type { TestApp } from "./helpers.ts";

/** The admin API key header of testApp(). */
export const ADMIN = { "x-api-key": "admin-key" };

/** A Bearer header. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Creates a camera through the API. */
export async function addCamera(
  t: TestApp,
  stream: string,
  extra: { title?: string; location?: string } = {},
): Promise<{ id: string; stream: string; title: string }> {
  const res = await t.json("POST", "/api/v1/cameras", {
    stream,
    title: extra.title ?? `Camera ${stream}`,
    ...extra,
  }, ADMIN);
  if (res.status !== 201) throw new Error(`camera create failed: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** Grants a camera to a user through the API. */
export async function grant(t: TestApp, cameraId: string, userId: string): Promise<void> {
  const res = await t.json("PUT", `/api/v1/cameras/${cameraId}/users/${userId}`, undefined, ADMIN);
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`grant failed: ${res.status} ${await res.text()}`);
  }
  await res.body?.cancel();
}

/** Revokes a grant through the API. */
export async function revoke(t: TestApp, cameraId: string, userId: string): Promise<void> {
  const res = await t.json("DELETE", `/api/v1/cameras/${cameraId}/users/${userId}`, undefined, ADMIN);
  if (res.status !== 204) throw new Error(`revoke failed: ${res.status} ${await res.text()}`);
}

/** The camera list a user gets (and with it a fresh camera token). */
export async function cameraList(t: TestApp, accessToken: string): Promise<{
  token: string;
  expires_at: string;
  cameras: {
    id: string;
    stream: string;
    title: string;
    location: string | null;
    urls: Record<string, string>;
  }[];
}> {
  const res = await t.app.request("/api/v1/cameras", { headers: bearer(accessToken) });
  if (res.status !== 200) throw new Error(`camera list failed: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** A logged-in user granted cameras with these stream names, and their camera token. */
export async function viewer(t: TestApp, streams: string[], phone?: string) {
  const login = await t.login(phone);
  const cameras = [];
  for (const s of streams) {
    const cam = await addCamera(t, s);
    await grant(t, cam.id, login.user.id);
    cameras.push(cam);
  }
  const list = await cameraList(t, login.access_token);
  return { login, cameras, token: list.token, list };
}

/**
 * The query Flussonic sends to its `auth` backend for a play session (flussonic.com/doc/api/authorization):
 * `name, proto, ip, token, request_type, request_number, session_id, stream_clients, total_clients`, plus
 * `qs, user_agent, referer, host` and, on update_session, `duration` and `bytes`.
 */
export function flussonicQuery(
  input: {
    name: string;
    token?: string;
    requestType?: "new_session" | "update_session";
    requestNumber?: number;
    sessionId?: string;
    proto?: string;
    extra?: Record<string, string>;
  },
): string {
  const requestType = input.requestType ?? "new_session";
  const p = new URLSearchParams({
    name: input.name,
    proto: input.proto ?? "hls",
    ip: "198.51.100.23",
    request_type: requestType,
    request_number: String(input.requestNumber ?? (requestType === "new_session" ? 0 : 1)),
    session_id: input.sessionId ?? "c5b3f6a0-6d3e-4f1e-9a77-0d2f5e1b9c41",
    stream_clients: requestType === "new_session" ? "0" : "1",
    total_clients: "3",
    user_agent: "ExoPlayerLib/2.18.1",
    referer: "https://app.example.net/",
    host: "media.example.net",
  });
  if (input.token !== undefined) {
    p.set("token", input.token);
    p.set("qs", `token=${input.token}`);
  }
  if (requestType === "update_session") {
    p.set("duration", "60");
    p.set("bytes", "1843200");
  }
  for (const [k, v] of Object.entries(input.extra ?? {})) p.set(k, v);
  return p.toString();
}

/** MediaMTX's HTTP auth body (internal/auth/manager.go): every field it sends, in its order. */
export function mediaMtxBody(input: {
  path: string;
  token?: string;
  action?: string;
  protocol?: string;
  query?: string;
  user?: string;
  password?: string;
}) {
  return {
    ip: "198.51.100.23",
    user: input.user ?? "",
    password: input.password ?? "",
    token: input.token ?? "",
    action: input.action ?? "read",
    path: input.path,
    protocol: input.protocol ?? "hls",
    id: "9d1c0b53-2a51-4bd6-8d55-2e6c47d1f1a3",
    query: input.query ?? "",
  };
}

/** Wraps a database so a test can count reads and make every query fail. */
export function instrumentDb(db: Db): { db: Db; selects: () => number; broken: { value: boolean } } {
  let selects = 0;
  const broken = { value: false };
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (broken.value) throw new Error("database is down (test)");
        if (prop === "select") selects++;
        return value.apply(target, args);
      };
    },
  });
  return { db: proxy, selects: () => selects, broken };
}
