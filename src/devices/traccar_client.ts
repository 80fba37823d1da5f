/**
 * A small client for the Traccar REST API (traccar.org/traccar-api, openapi.yaml v6.6): devices, users,
 * permissions, commands, positions, notifications and sessions.
 *
 * REST calls authenticate with `Authorization: Bearer <TRACCAR_TOKEN>` or HTTP Basic
 * (`TRACCAR_USER`/`TRACCAR_PASSWORD`). The WebSocket only accepts a session cookie, so
 * {@link TraccarClient.openSession} makes one (`GET /api/session?token=` or the `POST /api/session` form).
 */
import type { Config } from "../config.ts";

/** A device as Traccar returns it (only the fields gatehouse reads or writes are typed). */
export interface TraccarDevice {
  id: number;
  name: string;
  uniqueId: string;
  status?: string;
  attributes: Record<string, unknown>;
  [field: string]: unknown;
}

/** A Traccar user (only the fields gatehouse reads). */
export interface TraccarUser {
  id: number;
  name: string;
  email: string;
  administrator?: boolean;
  [field: string]: unknown;
}

/** A Traccar event (`model/Event.java`). */
export interface TraccarEvent {
  id: number;
  type: string;
  eventTime?: string;
  deviceId: number;
  positionId?: number;
  attributes?: Record<string, unknown>;
}

/** A Traccar position; only `attributes.result` (a command's reply text) matters here. */
export interface TraccarPosition {
  id: number;
  deviceId: number;
  attributes?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A command for `POST /api/commands/send`. */
export interface TraccarCommand {
  type: string;
  attributes?: Record<string, unknown>;
}

/** A logged-in Traccar session: the cookie to present on `/api/socket`, and who we are. */
export interface TraccarSession {
  cookie: string;
  user: TraccarUser;
}

/** Traccar answered with an error, or could not be reached. `status` is 0 when there was no answer. */
export class TraccarError extends Error {
  override name = "TraccarError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** How the client authenticates. */
export type TraccarAuth = { token: string } | { user: string; password: string };

/** Options of {@link TraccarClient}. */
export interface TraccarClientOptions {
  /** Base URL of the server, e.g. `https://traccar.example.com` (the API lives under `/api`). */
  url: string;
  auth: TraccarAuth;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** The fetch to use (tests may wrap it). */
  fetch?: typeof fetch;
}

/** Talks to one Traccar server with admin credentials. */
export class TraccarClient {
  readonly url: string;
  readonly #auth: TraccarAuth;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  #me?: Promise<TraccarUser>;

  constructor(options: TraccarClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#auth = options.auth;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** The `/api/socket` URL (`ws://` or `wss://`). */
  get socketUrl(): string {
    return `${this.url.replace(/^http/, "ws")}/api/socket`;
  }

  // ---- sessions

  /** Logs in and returns the session cookie (`JSESSIONID=…`) and the logged-in user. */
  async openSession(): Promise<TraccarSession> {
    const response = "token" in this.#auth
      ? await this.#send("GET", `/api/session?token=${encodeURIComponent(this.#auth.token)}`, {
        auth: false,
        what: "GET /api/session",
      })
      : await this.#send("POST", "/api/session", {
        auth: false,
        form: { email: this.#auth.user, password: this.#auth.password },
      });
    const user = await this.#read<TraccarUser>(response, "GET /api/session");
    const cookie = sessionCookie(response.headers);
    if (!cookie) {
      throw new TraccarError(response.status, "Traccar opened a session without a JSESSIONID cookie");
    }
    return { cookie, user };
  }

  /** The user our credentials belong to (asked once, through a session). */
  me(): Promise<TraccarUser> {
    this.#me ??= this.openSession().then((s) => s.user);
    this.#me.catch(() => this.#me = undefined);
    return this.#me;
  }

  // ---- devices

  /** The device with this uniqueId among those linked to us; with `all`, among every device (admins). */
  async findDevice(uniqueId: string, options: { all?: boolean } = {}): Promise<TraccarDevice | null> {
    const query = options.all ? "all=true" : `uniqueId=${encodeURIComponent(uniqueId)}`;
    const list = await this.#json<TraccarDevice[]>("GET", `/api/devices?${query}`);
    return list.find((d) => d.uniqueId === uniqueId) ?? null;
  }

  /** One device by its Traccar id. */
  getDevice(id: number): Promise<TraccarDevice> {
    return this.#json("GET", `/api/devices/${id}`);
  }

  /** The devices linked to a user (admins may ask about anyone). */
  userDevices(userId: number): Promise<TraccarDevice[]> {
    return this.#json("GET", `/api/devices?userId=${userId}`);
  }

  /** Creates a device; Traccar links it to the creating user. */
  createDevice(device: { name: string; uniqueId: string; attributes?: Record<string, unknown> }) {
    return this.#json<TraccarDevice>("POST", "/api/devices", { attributes: {}, ...device });
  }

  /** Replaces a device's editable fields (send the whole device, as `PUT` replaces). */
  updateDevice(device: TraccarDevice): Promise<TraccarDevice> {
    return this.#json("PUT", `/api/devices/${device.id}`, device);
  }

  // ---- users and permissions

  /** Every user (admins only). */
  listUsers(): Promise<TraccarUser[]> {
    return this.#json("GET", "/api/users");
  }

  /** Creates a user (admins only). */
  createUser(user: Record<string, unknown> & { name: string; email: string; password: string }) {
    return this.#json<TraccarUser>("POST", "/api/users", user);
  }

  /** Links two objects, e.g. `{ userId, deviceId }`. */
  async link(permission: Record<string, number>): Promise<void> {
    await this.#json("POST", "/api/permissions", permission);
  }

  /** Removes a link. */
  async unlink(permission: Record<string, number>): Promise<void> {
    await this.#json("DELETE", "/api/permissions", permission);
  }

  // ---- commands, positions, notifications

  /** Sends a command: `sent` when the device is connected (200), `queued` until it connects (202). */
  async sendCommand(deviceId: number, command: TraccarCommand): Promise<"sent" | "queued"> {
    const what = "POST /api/commands/send";
    const response = await this.#send("POST", "/api/commands/send", {
      body: { deviceId, type: command.type, attributes: command.attributes ?? {} },
      what,
    });
    await this.#read(response, what);
    return response.status === 202 ? "queued" : "sent";
  }

  /** Positions by id (e.g. the one a `commandResult` event points at). */
  positions(ids: number[]): Promise<TraccarPosition[]> {
    return this.#json("GET", `/api/positions?${ids.map((id) => `id=${id}`).join("&")}`);
  }

  /** Notification rules linked to us. */
  notifications(): Promise<Array<{ id: number; type: string; always: boolean; notificators: string }>> {
    return this.#json("GET", "/api/notifications");
  }

  /** Creates a notification rule (Traccar links it to us). */
  async createNotification(rule: { type: string; always: boolean; notificators: string }): Promise<void> {
    await this.#json("POST", "/api/notifications", { attributes: {}, ...rule });
  }

  // ---- plumbing

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const what = `${method} ${path.split("?")[0]}`;
    return await this.#read<T>(await this.#send(method, path, { body, what }), what);
  }

  async #send(
    method: string,
    path: string,
    options: { body?: unknown; form?: Record<string, string>; auth?: boolean; what?: string },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.auth !== false) {
      headers.authorization = "token" in this.#auth
        ? `Bearer ${this.#auth.token}`
        : `Basic ${btoa(`${this.#auth.user}:${this.#auth.password}`)}`;
    }
    let body: string | undefined;
    if (options.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(options.form).toString();
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const what = options.what ?? `${method} ${path}`;
    try {
      return await this.#fetch(`${this.url}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof DOMException && err.name === "TimeoutError"
        ? `no answer within ${this.#timeoutMs} ms`
        : describeFetchError(err);
      throw new TraccarError(0, `Cannot reach Traccar (${what}): ${reason}`);
    }
  }

  async #read<T>(response: Response, what: string): Promise<T> {
    const text = await response.text();
    if (!response.ok) {
      // Traccar answers failures as short plain text ("Device access denied - SecurityException").
      const detail = text.trim().slice(0, 200) || response.statusText;
      throw new TraccarError(response.status, `Traccar answered ${response.status} to ${what}: ${detail}`);
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new TraccarError(response.status, `Traccar answered ${what} with a body that is not JSON`);
    }
  }
}

/**
 * Why a fetch failed, without the URL: Deno's causes name the URL, and the session URL carries the
 * token (`?token=`), which must never reach a log.
 */
function describeFetchError(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : "";
  const text = [err instanceof Error ? err.message : String(err), cause].filter(Boolean).join(": ");
  return text.replace(/\s*\(?\b(?:https?|wss?):\/\/[^\s)]*\)?/g, "").replace(/\s+/g, " ").trim();
}

/** The `JSESSIONID=…` pair from a response's Set-Cookie headers. */
function sessionCookie(headers: Headers): string | null {
  for (const line of headers.getSetCookie()) {
    const pair = line.split(";")[0].trim();
    if (pair.startsWith("JSESSIONID=")) return pair;
  }
  return null;
}

/** The client described by the configuration, or undefined when TRACCAR_URL is not set. */
export function traccarFromConfig(
  config: Pick<
    Config,
    "TRACCAR_URL" | "TRACCAR_TOKEN" | "TRACCAR_USER" | "TRACCAR_PASSWORD" | "TRACCAR_TIMEOUT_MS"
  >,
): TraccarClient | undefined {
  if (!config.TRACCAR_URL) return undefined;
  const auth: TraccarAuth = config.TRACCAR_TOKEN
    ? { token: config.TRACCAR_TOKEN }
    : { user: config.TRACCAR_USER ?? "", password: config.TRACCAR_PASSWORD ?? "" };
  return new TraccarClient({ url: config.TRACCAR_URL, auth, timeoutMs: config.TRACCAR_TIMEOUT_MS });
}
