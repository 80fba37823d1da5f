/**
 * A local fake of a Traccar 6 server for tests: the REST API gatehouse uses, the `JSESSIONID` session,
 * and the `/api/socket` push feed, with every request recorded.
 *
 * It follows the real server's rules, read from traccar/traccar (file named beside each rule):
 * - REST auth (`api/security/SecurityRequestFilter.java`): an `Authorization` header wins over the
 *   session cookie; a bad header is a 401 even when the cookie is good.
 * - The socket (`api/AsyncSocketServlet.java`) looks only at the session cookie or a `?token=`
 *   parameter; `Authorization` headers are ignored and a refused upgrade answers 503.
 * - On connect the socket sends `{"positions":[…latest…]}` (possibly empty); then one key per message;
 *   `{}` is the keepalive (`api/AsyncSocket.java`, `schedule/TaskWebSocketKeepalive.java`: 55 s).
 * - Positions go to users linked to the device, only when newer than the last one
 *   (`handler/PostProcessHandler.java`).
 * - Events reach a socket only through a notification of that type whose notificators include
 *   `web`, linked to the user and either linked to the device or `always`
 *   (`database/NotificationManager.java`, `notificators/NotificatorWeb.java`, which also adds
 *   `attributes.message`).
 * - A position with `attributes.result` makes a `commandResult` event whose `attributes.result` holds
 *   the same text (`handler/events/CommandResultEventHandler.java`).
 * - `POST /api/commands/send` answers 200 with the command when the device has a session, else 202
 *   with the queued command (`api/resource/CommandResource.java`).
 * - Other failures are 400 with a plain-text body (`api/ResourceErrorHandler.java`).
 *
 * The server listens behind a small TCP relay so that `dropSockets()` can cut connections without a
 * close frame, the way a network drop or a restarted server looks to a client.
 */

const ADMIN_ID = 1;
const SESSION_COOKIE = "JSESSIONID";
/** Traccar's keepalive period (`TaskWebSocketKeepalive.PERIOD_SECONDS`). */
const KEEPALIVE_MS = 55_000;

/** A device as Traccar serialises it (`model/Device.java`). */
export interface TraccarDevice {
  id: number;
  name: string;
  uniqueId: string;
  /** `offline` until the device connects: Traccar returns `offline` for a null status. */
  status: "online" | "offline" | "unknown";
  disabled: boolean;
  lastUpdate: string | null;
  positionId: number;
  groupId: number;
  phone: string | null;
  model: string | null;
  contact: string | null;
  category: string | null;
  expirationTime: string | null;
  attributes: Record<string, unknown>;
}

/** A user as Traccar serialises it; the password is write-only and always `null`. */
export interface TraccarUser {
  id: number;
  name: string;
  login: string | null;
  email: string;
  phone: string | null;
  readonly: boolean;
  administrator: boolean;
  map: string | null;
  latitude: number;
  longitude: number;
  zoom: number;
  coordinateFormat: string | null;
  disabled: boolean;
  expirationTime: string | null;
  deviceLimit: number;
  userLimit: number;
  deviceReadonly: boolean;
  limitCommands: boolean;
  disableReports: boolean;
  fixedEmail: boolean;
  poiLayer: string | null;
  totpKey: string | null;
  temporary: boolean;
  password: null;
  attributes: Record<string, unknown>;
}

/** A position (`model/Position.java`). */
export interface TraccarPosition {
  id: number;
  deviceId: number;
  protocol: string;
  serverTime: string;
  deviceTime: string;
  fixTime: string;
  outdated: boolean;
  valid: boolean;
  latitude: number;
  longitude: number;
  altitude: number;
  speed: number;
  course: number;
  address: string | null;
  accuracy: number;
  network: unknown;
  geofenceIds: number[] | null;
  attributes: Record<string, unknown>;
}

/** An event (`model/Event.java`). */
export interface TraccarEvent {
  id: number;
  type: string;
  eventTime: string;
  deviceId: number;
  positionId: number;
  geofenceId: number;
  maintenanceId: number;
  attributes: Record<string, unknown>;
}

/** A command as sent to `POST /api/commands/send` (`model/Command.java`). */
export interface TraccarCommand {
  id: number;
  deviceId: number;
  description: string | null;
  type: string;
  textChannel: boolean;
  attributes: Record<string, unknown>;
}

/** A notification rule (`model/Notification.java`); `notificators` is comma-separated. */
export interface TraccarNotification {
  id: number;
  type: string;
  always: boolean;
  notificators: string;
  commandId: number;
  calendarId: number;
  attributes: Record<string, unknown>;
}

/** A link made with `POST /api/permissions`, e.g. `{ userId: 2, deviceId: 5 }`. */
export type TraccarPermission = Record<string, number>;

/** Which credential a request carried. */
export type AuthKind = "basic" | "bearer" | "cookie" | null;

/** One request the fake answered. */
export interface RecordedRequest {
  method: string;
  path: string;
  search: string;
  auth: AuthKind;
  /** Parsed JSON or form fields when they parse, else the raw text, else `null`. */
  body: unknown;
  status: number;
}

/** A command that reached `POST /api/commands/send` and what became of it. */
export interface SentCommand {
  command: TraccarCommand;
  userId: number;
  /** True while the device was offline and the command waited for it (answer 202). */
  queued: boolean;
  /** True once the device received it (at once when online, else when it came online). */
  delivered: boolean;
}

/** Options of {@link startFakeTraccar}. */
export interface FakeTraccarOptions {
  /** Admin API token for `Authorization: Bearer`, `GET /api/session?token=` and `/api/socket?token=`. */
  token?: string;
  /** What a device answers to a command it received; `undefined` means no answer. */
  autoReply?: (command: TraccarCommand) => string | undefined;
  /** How long a device takes to answer a command, in ms (default 5). */
  replyDelayMs?: number;
  /** Keepalive period in ms (default 55 000 like Traccar; 0 turns it off). */
  keepaliveMs?: number;
  /** Accept `/api/socket?token=` (current Traccar does; older servers need the cookie). Default true. */
  socketTokenParam?: boolean;
  /** Notification rules the admin owns from the start, e.g. `[{ type: "commandResult" }]` (web, always). */
  notifications?: Array<Partial<Omit<TraccarNotification, "id">> & { type: string }>;
}

interface Session {
  userId: number | null;
}

interface SocketClient {
  socket: WebSocket;
  userId: number;
  relayPort: number;
  logs: boolean;
}

interface RelayPair {
  client: Deno.Conn;
  upstream: Deno.Conn;
  upstreamPort: number;
}

/** An expected failure, answered like Traccar's `ResourceErrorHandler`: status and plain text. */
class TraccarHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function fail(status: number, message: string): never {
  throw new TraccarHttpError(status, message);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function now(): string {
  return new Date().toISOString();
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed by the other side
  }
}

function cookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

function presentedAuth(req: Request): AuthKind {
  const header = req.headers.get("authorization");
  if (header) {
    const scheme = header.split(" ")[0].toLowerCase();
    return scheme === "basic" ? "basic" : scheme === "bearer" ? "bearer" : null;
  }
  return cookie(req.headers.get("cookie"), SESSION_COOKIE) ? "cookie" : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function attrs(value: unknown): Record<string, unknown> {
  return isObject(value) ? structuredClone(value) : {};
}

function idParam(segment: string | undefined): number {
  const id = Number(segment);
  if (!Number.isInteger(id) || id <= 0) fail(404, `HTTP 404 Not Found`);
  return id;
}

function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `node0${Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("")}.node0`;
}

/** A running fake; see {@link startFakeTraccar}. */
export class FakeTraccar implements AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234` (the API lives under `/api`). */
  readonly url: string;
  /** Every request answered, in order. */
  readonly requests: RecordedRequest[] = [];
  readonly users: TraccarUser[] = [];
  readonly devices: TraccarDevice[] = [];
  /** All links, including the user→object link Traccar adds when a user creates an object. */
  readonly permissions: TraccarPermission[] = [];
  readonly commands: SentCommand[] = [];
  readonly notifications: TraccarNotification[] = [];
  readonly positions: TraccarPosition[] = [];
  /** Every event the server generated, delivered to a socket or not. */
  readonly events: TraccarEvent[] = [];

  readonly #token: string;
  readonly #autoReply?: (command: TraccarCommand) => string | undefined;
  readonly #replyDelayMs: number;
  readonly #socketTokenParam: boolean;
  readonly #passwords = new Map<number, string>();
  readonly #sessions = new Map<string, Session>();
  readonly #online = new Set<number>();
  readonly #queue: SentCommand[] = [];
  readonly #clients = new Set<SocketClient>();
  readonly #pairs = new Set<RelayPair>();
  readonly #pumps = new Set<Promise<void>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #keepalive?: ReturnType<typeof setInterval>;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #listener: Deno.Listener;
  readonly #accepting: Promise<void>;
  #ids = { user: 1, device: 0, position: 0, event: 0, notification: 0, queued: 0 };
  #closed = false;

  constructor(options: FakeTraccarOptions = {}) {
    this.#token = options.token ?? "tok";
    this.#autoReply = options.autoReply;
    this.#replyDelayMs = options.replyDelayMs ?? 5;
    this.#socketTokenParam = options.socketTokenParam ?? true;

    this.users.push(
      this.#userFrom({ name: "admin", email: "admin@example.com", administrator: true }, ADMIN_ID),
    );
    this.#passwords.set(ADMIN_ID, "admin");
    for (const notification of options.notifications ?? []) {
      this.addNotification({ always: true, notificators: "web", ...notification });
    }

    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => this.#handle(req, info),
    );
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.url = `http://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
    this.#accepting = this.#accept();

    const keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
    if (keepaliveMs > 0) this.#keepalive = setInterval(() => this.sendKeepalive(), keepaliveMs);
  }

  /** Sockets currently open on the server side. */
  get socketCount(): number {
    return this.#clients.size;
  }

  /** The `/api/socket` URL (`ws://…`). */
  get socketUrl(): string {
    return `${this.url.replace(/^http/, "ws")}/api/socket`;
  }

  /** Adds a user directly (no request recorded). */
  addUser(
    user: Partial<Omit<TraccarUser, "id" | "password">> & { email: string; password?: string },
  ): TraccarUser {
    const created = this.#userFrom(user, ++this.#ids.user);
    this.users.push(created);
    if (user.password !== undefined) this.#passwords.set(created.id, user.password);
    return created;
  }

  /** Adds a device directly, linked to `ownerId` (the admin by default) as Traccar links a creator. */
  addDevice(
    device: Partial<Omit<TraccarDevice, "id">> & { name: string; uniqueId: string },
    ownerId: number = ADMIN_ID,
  ): TraccarDevice {
    const created: TraccarDevice = {
      ...this.#deviceFrom(device, ++this.#ids.device),
      status: device.status ?? "offline",
      lastUpdate: device.lastUpdate ?? null,
      positionId: device.positionId ?? 0,
    };
    if (this.devices.some((d) => d.uniqueId === created.uniqueId)) {
      throw new Error(`Cannot add device: uniqueId ${created.uniqueId} is taken`);
    }
    this.devices.push(created);
    this.#link({ userId: ownerId, deviceId: created.id });
    return created;
  }

  /** Adds a notification rule owned by `ownerId` (the admin by default). */
  addNotification(
    notification: Partial<Omit<TraccarNotification, "id">> & { type: string },
    ownerId: number = ADMIN_ID,
  ): TraccarNotification {
    const created = this.#notificationFrom(notification, ++this.#ids.notification);
    this.notifications.push(created);
    this.#link({ userId: ownerId, notificationId: created.id });
    return created;
  }

  /** The password a user logs in with, if any (passwords never appear in user JSON). */
  passwordOf(userId: number): string | undefined {
    return this.#passwords.get(userId);
  }

  /** Forgets every session, as a restarted Traccar does: old cookies stop working. */
  expireSessions(): void {
    this.#sessions.clear();
  }

  /**
   * Marks a device connected or not. A change updates `status` and `lastUpdate`, pushes the device,
   * raises `deviceOnline`/`deviceOffline`, and on connect sends the queued commands
   * (each raising `queuedCommandSent`).
   */
  setOnline(deviceId: number, online: boolean): void {
    const device = this.#device(deviceId);
    if (online) this.#online.add(deviceId);
    else this.#online.delete(deviceId);
    const status = online ? "online" : "offline";
    if (device.status === status) return;
    device.status = status;
    device.lastUpdate = now();
    this.#push(this.#deviceUsers(deviceId), { devices: [structuredClone(device)] });
    this.emitEvent({ type: online ? "deviceOnline" : "deviceOffline", deviceId });
    if (!online) return;
    for (const sent of this.#queue.filter((s) => s.command.deviceId === deviceId)) {
      this.#queue.splice(this.#queue.indexOf(sent), 1);
      sent.delivered = true;
      this.emitEvent({ type: "queuedCommandSent", deviceId });
      this.#scheduleReply(sent.command);
    }
  }

  /** Commands still waiting for their device. */
  get queuedCommands(): TraccarCommand[] {
    return this.#queue.map((s) => s.command);
  }

  /**
   * Stores an event (filling `id`, `eventTime` and zero ids) and pushes it to every user a `web`
   * notification of its type reaches. Returns the stored event.
   */
  emitEvent(event: Partial<TraccarEvent> & { type: string }): TraccarEvent {
    const stored: TraccarEvent = {
      id: event.id ?? ++this.#ids.event,
      type: event.type,
      eventTime: event.eventTime ?? now(),
      deviceId: event.deviceId ?? 0,
      positionId: event.positionId ?? 0,
      geofenceId: event.geofenceId ?? 0,
      maintenanceId: event.maintenanceId ?? 0,
      attributes: attrs(event.attributes),
    };
    this.#ids.event = Math.max(this.#ids.event, stored.id);
    this.events.push(stored);
    const device = this.devices.find((d) => d.id === stored.deviceId);
    for (const userId of this.#eventRecipients(stored)) {
      const message = stored.type === "commandResult"
        ? `${device?.name ?? stored.deviceId}: ${String(stored.attributes.result ?? "")}`
        : `${device?.name ?? stored.deviceId}: ${stored.type}`;
      const copy = { ...stored, attributes: { ...stored.attributes, message } };
      this.#push(new Set([userId]), { events: [copy] });
    }
    return stored;
  }

  /**
   * A position reported by a device, processed like Traccar does: stored, a `commandResult` event
   * when `attributes.result` is set, then pushed to the device's users if it is the latest.
   */
  emitPosition(position: Partial<TraccarPosition> & { deviceId: number }): TraccarPosition {
    const device = this.#device(position.deviceId);
    const time = now();
    const stored: TraccarPosition = {
      id: position.id ?? ++this.#ids.position,
      deviceId: device.id,
      protocol: position.protocol ?? "osmand",
      serverTime: position.serverTime ?? time,
      deviceTime: position.deviceTime ?? time,
      fixTime: position.fixTime ?? position.deviceTime ?? time,
      outdated: position.outdated ?? false,
      valid: position.valid ?? true,
      latitude: position.latitude ?? 0,
      longitude: position.longitude ?? 0,
      altitude: position.altitude ?? 0,
      speed: position.speed ?? 0,
      course: position.course ?? 0,
      address: position.address ?? null,
      accuracy: position.accuracy ?? 0,
      network: position.network ?? null,
      geofenceIds: position.geofenceIds ?? null,
      attributes: attrs(position.attributes),
    };
    this.#ids.position = Math.max(this.#ids.position, stored.id);
    const last = this.#latest(device.id);
    this.positions.push(stored);
    if (stored.attributes.result !== undefined) {
      this.emitEvent({
        type: "commandResult",
        deviceId: device.id,
        positionId: stored.id,
        eventTime: stored.deviceTime,
        attributes: { result: String(stored.attributes.result) },
      });
    }
    if (!last || Date.parse(stored.fixTime) >= Date.parse(last.fixTime)) {
      device.positionId = stored.id;
      this.#push(this.#deviceUsers(device.id), { positions: [structuredClone(stored)] });
    }
    return stored;
  }

  /** Sends the `{}` keepalive to every socket now. */
  sendKeepalive(): void {
    for (const client of this.#clients) this.#send(client, {});
  }

  /** Cuts every socket's TCP connection without a close frame (the client sees an abnormal closure). */
  dropSockets(): void {
    for (const client of [...this.#clients]) {
      this.#clients.delete(client);
      const pair = [...this.#pairs].find((p) => p.upstreamPort === client.relayPort);
      if (pair) {
        closeQuietly(pair.client);
        closeQuietly(pair.upstream);
      } else {
        client.socket.close();
      }
    }
  }

  /** Closes every socket cleanly, as Jetty does on shutdown (default 1001 "Shutdown"). */
  closeSockets(code = 1001, reason = "Shutdown"): void {
    for (const client of [...this.#clients]) {
      this.#clients.delete(client);
      client.socket.close(code, reason);
    }
  }

  /** Stops accepting, cuts every connection, stops the timers and shuts the server down. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#listener.close();
    await this.#accepting;
    this.#clients.clear();
    for (const pair of this.#pairs) {
      closeQuietly(pair.client);
      closeQuietly(pair.upstream);
    }
    await Promise.all(this.#pumps);
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- relay: lets dropSockets() cut a TCP connection, which Deno.serve cannot do itself

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      const pump = this.#relay(conn);
      this.#pumps.add(pump);
      pump.finally(() => this.#pumps.delete(pump));
    }
  }

  async #relay(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#server.addr.port });
    } catch {
      closeQuietly(client);
      return;
    }
    const pair = { client, upstream, upstreamPort: (upstream.localAddr as Deno.NetAddr).port };
    this.#pairs.add(pair);
    if (this.#closed) {
      closeQuietly(client);
      closeQuietly(upstream);
    }
    await Promise.all([
      client.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(client.writable).catch(() => {}),
    ]);
    closeQuietly(client);
    closeQuietly(upstream);
    this.#pairs.delete(pair);
  }

  // ---- HTTP

  async #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const url = new URL(req.url);
    const record: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      search: url.search,
      auth: presentedAuth(req),
      body: null,
      status: 0,
    };
    this.requests.push(record);
    let response: Response;
    try {
      if (url.pathname === "/api/socket") {
        response = this.#socket(req, url, info.remoteAddr.port);
      } else {
        const raw = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
        record.body = parseForRecord(raw, req.headers.get("content-type"));
        response = this.#route(req, url, raw);
      }
    } catch (error) {
      if (!(error instanceof TraccarHttpError)) throw error;
      response = new Response(error.message, {
        status: error.status,
        headers: { "content-type": "text/plain" },
      });
    }
    record.status = response.status;
    return response;
  }

  #route(req: Request, url: URL, raw: string): Response {
    const [api, resource, sub, ...rest] = url.pathname.split("/").filter(Boolean);
    if (api !== "api" || rest.length > 0) fail(404, "HTTP 404 Not Found");
    const method = req.method;
    const route = `${method} ${resource}${sub === undefined ? "" : sub === "send" ? "/send" : "/{id}"}`;

    // @PermitAll resources first, as SecurityRequestFilter lets them through without a user.
    switch (route) {
      case "GET session":
        return this.#getSession(req, url);
      case "POST session":
        return this.#postSession(req, raw);
      case "GET server":
        return json(200, { id: 1, registration: false, readonly: false, version: "6.6", attributes: {} });
    }

    const known = new Set([
      "DELETE session",
      "GET users",
      "POST users",
      "PUT users/{id}",
      "DELETE users/{id}",
      "GET devices",
      "POST devices",
      "GET devices/{id}",
      "PUT devices/{id}",
      "DELETE devices/{id}",
      "POST permissions",
      "DELETE permissions",
      "POST commands/send",
      "GET positions",
      "GET notifications",
      "POST notifications",
      "DELETE notifications/{id}",
    ]);
    if (!known.has(route)) {
      const pathKnown = [...known].some((r) => r.split(" ")[1] === route.split(" ")[1]);
      fail(pathKnown ? 405 : 404, pathKnown ? "HTTP 405 Method Not Allowed" : "HTTP 404 Not Found");
    }
    const userId = this.#authenticate(req);
    if (userId === null) {
      const html = (req.headers.get("accept") ?? "").includes("text/html");
      return new Response("HTTP 401 Unauthorized", {
        status: 401,
        headers: {
          "content-type": "text/plain",
          ...(html ? { "www-authenticate": 'Basic realm="api"' } : {}),
        },
      });
    }

    switch (route) {
      case "DELETE session": {
        const session = this.#sessions.get(cookie(req.headers.get("cookie"), SESSION_COOKIE) ?? "");
        if (session) session.userId = null;
        return new Response(null, { status: 204 });
      }
      case "GET users":
        this.#requireAdmin(userId);
        return json(200, this.users);
      case "POST users":
        return this.#postUser(userId, readJson(req, raw));
      case "PUT users/{id}":
        return this.#putUser(userId, idParam(sub), readJson(req, raw));
      case "DELETE users/{id}":
        return this.#deleteUser(userId, idParam(sub));
      case "GET devices":
        return json(200, this.#listDevices(userId, url.searchParams));
      case "POST devices":
        return this.#postDevice(userId, readJson(req, raw));
      case "GET devices/{id}": {
        const device = this.#device(idParam(sub), 404);
        this.#checkDevice(userId, device.id);
        return json(200, device);
      }
      case "PUT devices/{id}":
        return this.#putDevice(userId, idParam(sub), readJson(req, raw));
      case "DELETE devices/{id}":
        return this.#deleteDevice(userId, idParam(sub));
      case "POST permissions":
        this.#link(this.#permissionFrom(userId, readJson(req, raw)));
        return new Response(null, { status: 204 });
      case "DELETE permissions":
        this.#unlink(this.#permissionFrom(userId, readJson(req, raw)));
        return new Response(null, { status: 204 });
      case "POST commands/send":
        return this.#sendCommand(userId, readJson(req, raw));
      case "GET positions":
        return json(200, this.#listPositions(userId, url.searchParams));
      case "GET notifications": {
        const all = url.searchParams.get("all") === "true" && this.#isAdmin(userId);
        return json(
          200,
          all ? this.notifications : this.notifications.filter((n) => this.#linked(userId, n.id)),
        );
      }
      case "POST notifications": {
        const body = readJson(req, raw);
        const type = isObject(body) ? str(body.type) : null;
        if (!type) fail(400, "Notification type is required");
        return json(200, this.addNotification({ ...(body as Partial<TraccarNotification>), type }, userId));
      }
      case "DELETE notifications/{id}": {
        const id = idParam(sub);
        const index = this.notifications.findIndex((n) => n.id === id);
        if (index < 0 || !(this.#isAdmin(userId) || this.#linked(userId, id))) fail(400, "Access denied");
        this.notifications.splice(index, 1);
        this.#removeLinks((p) => p.notificationId === id);
        return new Response(null, { status: 204 });
      }
    }
    fail(404, "HTTP 404 Not Found");
  }

  // ---- session (api/resource/SessionResource.java)

  #getSession(req: Request, url: URL): Response {
    const token = url.searchParams.get("token");
    if (token !== null) {
      if (token !== this.#token) fail(400, "Invalid token - SecurityException");
      return this.#login(req, ADMIN_ID);
    }
    const session = this.#sessions.get(cookie(req.headers.get("cookie"), SESSION_COOKIE) ?? "");
    const user = session?.userId ? this.users.find((u) => u.id === session.userId) : undefined;
    if (!user) fail(404, "HTTP 404 Not Found");
    return json(200, user);
  }

  #postSession(req: Request, raw: string): Response {
    const type = (req.headers.get("content-type") ?? "").toLowerCase();
    if (!type.startsWith("application/x-www-form-urlencoded")) fail(415, "HTTP 415 Unsupported Media Type");
    const form = new URLSearchParams(raw);
    const userId = this.#checkPassword(form.get("email") ?? "", form.get("password") ?? "");
    if (userId === null) fail(401, "HTTP 401 Unauthorized");
    return this.#login(req, userId);
  }

  /** Puts the user in the request's session, creating one (and its cookie) when there is none. */
  #login(req: Request, userId: number): Response {
    const user = this.users.find((u) => u.id === userId)!;
    const existing = cookie(req.headers.get("cookie"), SESSION_COOKIE);
    const session = existing ? this.#sessions.get(existing) : undefined;
    if (session) {
      session.userId = userId;
      return json(200, user);
    }
    const id = newSessionId();
    this.#sessions.set(id, { userId });
    return json(200, user, { "set-cookie": `${SESSION_COOKIE}=${id}; Path=/; HttpOnly` });
  }

  #checkPassword(login: string, password: string): number | null {
    const email = login.trim();
    const user = this.users.find((u) => u.email === email || (u.login !== null && u.login === email));
    if (!user || user.disabled || this.#passwords.get(user.id) !== password) return null;
    return user.id;
  }

  /** The user behind a REST request: the Authorization header if present, else the session. */
  #authenticate(req: Request): number | null {
    const header = req.headers.get("authorization");
    if (header) {
      const [scheme, credentials = ""] = header.split(" ");
      if (scheme.toLowerCase() === "bearer") return credentials === this.#token ? ADMIN_ID : null;
      if (scheme.toLowerCase() !== "basic") return null;
      let decoded: string;
      try {
        decoded = atob(credentials);
      } catch {
        return null;
      }
      const colon = decoded.indexOf(":");
      if (colon < 0) return null;
      return this.#checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    return this.#sessionUser(req);
  }

  #sessionUser(req: Request): number | null {
    const session = this.#sessions.get(cookie(req.headers.get("cookie"), SESSION_COOKIE) ?? "");
    const user = session?.userId ? this.users.find((u) => u.id === session.userId) : undefined;
    return user && !user.disabled ? user.id : null;
  }

  // ---- socket (api/AsyncSocketServlet.java, api/AsyncSocket.java)

  #socket(req: Request, url: URL, relayPort: number): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      fail(405, "HTTP 405 Method Not Allowed");
    }
    const token = url.searchParams.get("token");
    const userId = token !== null && this.#socketTokenParam
      ? (token === this.#token ? ADMIN_ID : null)
      : this.#sessionUser(req);
    if (userId === null) fail(503, "WebSocket Endpoint Creation Refused");

    const { socket, response } = Deno.upgradeWebSocket(req);
    const client: SocketClient = { socket, userId, relayPort, logs: false };
    this.#clients.add(client);
    socket.onopen = () => {
      const positions = this.#userDeviceIds(userId).flatMap((id) => this.#latest(id) ?? []);
      this.#send(client, { positions });
    };
    socket.onmessage = (event) => {
      // The web app sends {"logs": true} to receive device logs; anything else is ignored.
      try {
        const data = JSON.parse(String(event.data));
        if (isObject(data) && typeof data.logs === "boolean") client.logs = data.logs;
      } catch {
        // Traccar logs "Socket JSON parsing error" and carries on
      }
    };
    socket.onclose = () => this.#clients.delete(client);
    socket.onerror = () => this.#clients.delete(client);
    return response;
  }

  #send(client: SocketClient, message: Record<string, unknown>): void {
    if (client.socket.readyState === WebSocket.OPEN) client.socket.send(JSON.stringify(message));
  }

  #push(userIds: Set<number>, message: Record<string, unknown>): void {
    for (const client of this.#clients) {
      if (userIds.has(client.userId)) this.#send(client, message);
    }
  }

  // ---- users (api/resource/UserResource.java)

  #postUser(userId: number, body: unknown): Response {
    this.#requireAdmin(userId);
    if (!isObject(body)) fail(400, "User object expected");
    const email = str(body.email)?.trim();
    if (!email) fail(400, "User email is required");
    if (this.users.some((u) => u.email === email)) fail(400, `Unique index violation: email "${email}"`);
    const user = this.#userFrom({ ...body, email }, ++this.#ids.user);
    this.users.push(user);
    const password = str(body.password);
    if (password !== null) this.#passwords.set(user.id, password);
    return json(200, user);
  }

  #putUser(userId: number, id: number, body: unknown): Response {
    if (!isObject(body)) fail(400, "User object expected");
    // Traccar updates the id in the body; the path id is only the address.
    if (num(body.id) !== id) fail(400, "User id in body and path differ");
    if (!this.#isAdmin(userId) && userId !== id) fail(400, "Access denied");
    const index = this.users.findIndex((u) => u.id === id);
    if (index < 0) fail(400, "Access denied");
    const email = str(body.email)?.trim() ?? "";
    if (!email) fail(400, "User email is required");
    if (this.users.some((u) => u.email === email && u.id !== id)) {
      fail(400, `Unique index violation: email "${email}"`);
    }
    const user = this.#userFrom({ ...body, email }, id);
    if (!this.#isAdmin(userId)) user.administrator = this.users[index].administrator;
    this.users[index] = user;
    const password = str(body.password);
    if (password) this.#passwords.set(id, password);
    return json(200, user);
  }

  #deleteUser(userId: number, id: number): Response {
    this.#requireAdmin(userId);
    const index = this.users.findIndex((u) => u.id === id);
    if (index < 0) fail(400, "Access denied");
    this.users.splice(index, 1);
    this.#passwords.delete(id);
    this.#removeLinks((p) => p.userId === id);
    for (const session of this.#sessions.values()) if (session.userId === id) session.userId = null;
    return new Response(null, { status: 204 });
  }

  #userFrom(body: Record<string, unknown>, id: number): TraccarUser {
    return {
      id,
      name: str(body.name) ?? "",
      login: str(body.login),
      email: str(body.email) ?? "",
      phone: str(body.phone),
      readonly: body.readonly === true,
      administrator: body.administrator === true,
      map: str(body.map),
      latitude: num(body.latitude),
      longitude: num(body.longitude),
      zoom: num(body.zoom),
      coordinateFormat: str(body.coordinateFormat),
      disabled: body.disabled === true,
      expirationTime: str(body.expirationTime),
      deviceLimit: typeof body.deviceLimit === "number" ? body.deviceLimit : -1,
      userLimit: num(body.userLimit),
      deviceReadonly: body.deviceReadonly === true,
      limitCommands: body.limitCommands === true,
      disableReports: body.disableReports === true,
      fixedEmail: body.fixedEmail === true,
      poiLayer: str(body.poiLayer),
      totpKey: str(body.totpKey),
      temporary: body.temporary === true,
      password: null,
      attributes: attrs(body.attributes),
    };
  }

  // ---- devices (api/resource/DeviceResource.java, api/BaseObjectResource.java)

  /**
   * Like Traccar, `uniqueId`/`id` filters and the plain list only return devices linked to the caller,
   * even for an admin; `all=true` lists everything for an admin; `userId` lists another user's.
   */
  #listDevices(userId: number, query: URLSearchParams): TraccarDevice[] {
    const uniqueIds = query.getAll("uniqueId");
    const ids = query.getAll("id").map(Number);
    const mine = new Set(this.#userDeviceIds(userId));
    if (uniqueIds.length > 0 || ids.length > 0) {
      return [
        ...uniqueIds.flatMap((u) => this.devices.filter((d) => d.uniqueId === u && mine.has(d.id))),
        ...ids.flatMap((i) => this.devices.filter((d) => d.id === i && mine.has(d.id))),
      ];
    }
    let visible: Set<number> | null = mine;
    if (query.get("all") === "true") {
      visible = this.#isAdmin(userId) ? null : mine;
    } else if (query.has("userId")) {
      const other = Number(query.get("userId"));
      if (other !== userId && !this.#isAdmin(userId)) fail(400, "Access denied");
      visible = new Set(this.#userDeviceIds(other));
    }
    return this.devices
      .filter((d) => visible === null || visible.has(d.id))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  #postDevice(userId: number, body: unknown): Response {
    if (!isObject(body)) fail(400, "Device object expected");
    const device = this.#deviceFrom(body, 0);
    this.#checkUniqueId(device.uniqueId, 0);
    device.id = ++this.#ids.device;
    const stored = { ...device, status: "offline" as const, lastUpdate: null, positionId: 0 };
    this.devices.push(stored);
    this.#link({ userId, deviceId: stored.id });
    return json(200, stored);
  }

  /** Replaces the editable fields; status, lastUpdate and positionId stay (they are @QueryIgnore). */
  #putDevice(userId: number, id: number, body: unknown): Response {
    if (!isObject(body)) fail(400, "Device object expected");
    if (num(body.id) !== id) fail(400, "Device id in body and path differ");
    const current = this.#device(id, 400);
    this.#checkDevice(userId, id);
    const update = this.#deviceFrom(body, id);
    this.#checkUniqueId(update.uniqueId, id);
    Object.assign(current, update, {
      status: current.status,
      lastUpdate: current.lastUpdate,
      positionId: current.positionId,
    });
    // Traccar answers with the entity it was given, not a fresh read.
    return json(200, update);
  }

  #deleteDevice(userId: number, id: number): Response {
    this.#device(id, 400);
    this.#checkDevice(userId, id);
    this.devices.splice(this.devices.findIndex((d) => d.id === id), 1);
    this.#removeLinks((p) => p.deviceId === id);
    this.#online.delete(id);
    return new Response(null, { status: 204 });
  }

  #deviceFrom(body: Record<string, unknown>, id: number): TraccarDevice {
    const name = str(body.name);
    const uniqueId = str(body.uniqueId)?.trim();
    if (!name) fail(400, "Device name is required - NOT NULL constraint");
    if (!uniqueId) fail(400, "Device uniqueId is required - NOT NULL constraint");
    if (uniqueId.includes("..")) fail(400, "Invalid unique id - IllegalArgumentException");
    const status = str(body.status);
    return {
      id,
      name,
      uniqueId,
      status: status === "online" || status === "unknown" ? status : "offline",
      disabled: body.disabled === true,
      lastUpdate: str(body.lastUpdate),
      positionId: num(body.positionId),
      groupId: num(body.groupId),
      phone: str(body.phone),
      model: str(body.model),
      contact: str(body.contact),
      category: str(body.category),
      expirationTime: str(body.expirationTime),
      attributes: attrs(body.attributes),
    };
  }

  #checkUniqueId(uniqueId: string, exceptId: number): void {
    if (this.devices.some((d) => d.uniqueId === uniqueId && d.id !== exceptId)) {
      fail(
        400,
        `Unique index or primary key violation: tc_devices(uniqueId) "${uniqueId}" - StorageException`,
      );
    }
  }

  #device(id: number, status = 0): TraccarDevice {
    const device = this.devices.find((d) => d.id === id);
    if (device) return device;
    if (status) fail(status, status === 404 ? "HTTP 404 Not Found" : "Access denied");
    throw new Error(`Cannot find device ${id} in the fake Traccar`);
  }

  /** `PermissionsService.checkPermission`: admins pass, others need a link. */
  #checkDevice(userId: number, deviceId: number): void {
    if (!this.#isAdmin(userId) && !this.#userDeviceIds(userId).includes(deviceId)) {
      fail(400, "Device access denied - SecurityException");
    }
  }

  // ---- permissions (api/resource/PermissionsResource.java)

  #permissionFrom(userId: number, body: unknown): TraccarPermission {
    if (!isObject(body)) fail(400, "Permission object expected");
    const entries = Object.entries(body);
    if (
      entries.length !== 2 || entries.some(([key, value]) => !key.endsWith("Id") || typeof value !== "number")
    ) {
      fail(400, "Permission needs exactly two numeric ids - IllegalArgumentException");
    }
    const permission = Object.fromEntries(entries) as TraccarPermission;
    if (permission.userId !== undefined && !this.users.some((u) => u.id === permission.userId)) {
      fail(400, "Unknown user - StorageException");
    }
    if (permission.deviceId !== undefined && !this.devices.some((d) => d.id === permission.deviceId)) {
      fail(400, "Unknown device - StorageException");
    }
    if (!this.#isAdmin(userId)) {
      if (permission.userId !== undefined && permission.userId !== userId) fail(400, "Access denied");
      if (permission.deviceId !== undefined) this.#checkDevice(userId, permission.deviceId);
    }
    return permission;
  }

  #link(permission: TraccarPermission): void {
    if (!this.permissions.some((p) => samePermission(p, permission))) {
      this.permissions.push({ ...permission });
    }
  }

  #unlink(permission: TraccarPermission): void {
    this.#removeLinks((p) => samePermission(p, permission));
  }

  #removeLinks(match: (p: TraccarPermission) => boolean): void {
    for (let i = this.permissions.length - 1; i >= 0; i--) {
      if (match(this.permissions[i])) this.permissions.splice(i, 1);
    }
  }

  #linked(userId: number, notificationId: number): boolean {
    return this.permissions.some((p) => p.userId === userId && p.notificationId === notificationId);
  }

  #userDeviceIds(userId: number): number[] {
    return this.permissions.filter((p) => p.userId === userId && p.deviceId !== undefined).map((p) =>
      p.deviceId
    );
  }

  #deviceUsers(deviceId: number): Set<number> {
    return new Set(
      this.permissions.filter((p) => p.deviceId === deviceId && p.userId !== undefined).map((p) => p.userId),
    );
  }

  #isAdmin(userId: number): boolean {
    return this.users.find((u) => u.id === userId)?.administrator === true;
  }

  #requireAdmin(userId: number): void {
    if (!this.#isAdmin(userId)) fail(400, "Administrator access required - SecurityException");
  }

  // ---- notifications (database/NotificationManager.java, session/cache/CacheManager.java)

  #notificationFrom(body: Partial<TraccarNotification> & { type: string }, id: number): TraccarNotification {
    return {
      id,
      type: body.type,
      always: body.always === true,
      notificators: str(body.notificators) ?? "",
      commandId: num(body.commandId),
      calendarId: num(body.calendarId),
      attributes: attrs(body.attributes),
    };
  }

  /** Users a `web` notification of the event's type reaches for the event's device. */
  #eventRecipients(event: TraccarEvent): Set<number> {
    const deviceUsers = this.#deviceUsers(event.deviceId);
    const recipients = new Set<number>();
    for (const n of this.notifications) {
      if (n.type !== event.type || !n.notificators.split(",").map((s) => s.trim()).includes("web")) continue;
      const users = this.permissions
        .filter((p) => p.notificationId === n.id && p.userId !== undefined && deviceUsers.has(p.userId))
        .map((p) => p.userId);
      const direct = this.permissions.some((p) => p.notificationId === n.id && p.deviceId === event.deviceId);
      if (n.always || direct) { for (const u of users) recipients.add(u); }
    }
    return recipients;
  }

  // ---- commands (api/resource/CommandResource.java, database/CommandsManager.java)

  #sendCommand(userId: number, body: unknown): Response {
    if (!isObject(body)) fail(400, "Command object expected");
    if (num(body.id) > 0) fail(400, "Saved commands are not supported by the fake Traccar");
    const type = str(body.type);
    if (!type) fail(400, "Command type is required");
    const device = this.#device(num(body.deviceId), 400);
    this.#checkDevice(userId, device.id);
    const command: TraccarCommand = {
      id: 0,
      deviceId: device.id,
      description: str(body.description),
      type,
      textChannel: body.textChannel === true,
      attributes: attrs(body.attributes),
    };
    if (this.#online.has(device.id)) {
      this.commands.push({ command, userId, queued: false, delivered: true });
      this.#scheduleReply(command);
      return json(200, command);
    }
    // CommandsManager stores a QueuedCommand (its own id) and the resource answers 202 with it.
    const queued: TraccarCommand = { ...command, id: ++this.#ids.queued };
    const sent = { command: queued, userId, queued: true, delivered: false };
    this.commands.push(sent);
    this.#queue.push(sent);
    return json(202, {
      id: queued.id,
      deviceId: queued.deviceId,
      type: queued.type,
      textChannel: queued.textChannel,
      attributes: queued.attributes,
    });
  }

  /** A device answering a command: a position carrying `attributes.result`, as protocol decoders make. */
  #scheduleReply(command: TraccarCommand): void {
    const reply = this.#autoReply?.(structuredClone(command));
    if (reply === undefined) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed || !this.devices.some((d) => d.id === command.deviceId)) return;
      const last = this.#latest(command.deviceId);
      this.emitPosition({
        deviceId: command.deviceId,
        // Decoders copy the last fix for messages without one (BaseProtocolDecoder.getLastLocation).
        latitude: last?.latitude,
        longitude: last?.longitude,
        fixTime: last?.fixTime,
        outdated: true,
        valid: false,
        attributes: { result: reply },
      });
    }, this.#replyDelayMs);
    this.#timers.add(timer);
  }

  // ---- positions (api/resource/PositionResource.java)

  #listPositions(userId: number, query: URLSearchParams): TraccarPosition[] {
    const allowed = (deviceId: number) =>
      this.#isAdmin(userId) || this.#userDeviceIds(userId).includes(deviceId);
    const ids = query.getAll("id").map(Number);
    if (ids.length > 0) return this.positions.filter((p) => ids.includes(p.id) && allowed(p.deviceId));
    const deviceId = Number(query.get("deviceId") ?? 0);
    if (deviceId > 0) {
      this.#checkDevice(userId, deviceId);
      const from = Date.parse(query.get("from") ?? "");
      const to = Date.parse(query.get("to") ?? "");
      if (Number.isNaN(from) || Number.isNaN(to)) fail(400, "from and to are required with deviceId");
      return this.positions.filter((p) =>
        p.deviceId === deviceId && Date.parse(p.fixTime) >= from && Date.parse(p.fixTime) <= to
      );
    }
    return this.#userDeviceIds(userId).flatMap((id) => this.#latest(id) ?? []);
  }

  #latest(deviceId: number): TraccarPosition | undefined {
    const positionId = this.devices.find((d) => d.id === deviceId)?.positionId;
    return positionId ? this.positions.find((p) => p.id === positionId) : undefined;
  }
}

function samePermission(a: TraccarPermission, b: TraccarPermission): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function readJson(req: Request, raw: string): unknown {
  const type = (req.headers.get("content-type") ?? "").toLowerCase();
  if (!type.startsWith("application/json")) fail(415, "HTTP 415 Unsupported Media Type");
  try {
    return JSON.parse(raw);
  } catch (error) {
    fail(400, `Cannot parse JSON: ${(error as Error).message} - JsonParseException`);
  }
}

function parseForRecord(raw: string, contentType: string | null): unknown {
  if (!raw) return null;
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Starts a fake Traccar on 127.0.0.1 with a free port. The admin is `admin@example.com` / `admin`
 * (id 1) and `options.token` (default `"tok"`) is the admin's API token.
 *
 * ```ts
 * await using traccar = await startFakeTraccar({ notifications: [{ type: "commandResult" }] });
 * ```
 */
export function startFakeTraccar(options: FakeTraccarOptions = {}): Promise<FakeTraccar> {
  return Promise.resolve(new FakeTraccar(options));
}
