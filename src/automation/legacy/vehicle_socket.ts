/**
 * The vehicle-lookup mobile app's socket protocol (car-thingy) on the vehicle-lookup flow: the app
 * sends a licence plate as text and gets `pending` data items, `waiting` when the SMS code is needed
 * (it answers with the code as text), then `success` or `fail`. One lookup per socket at a time; closing
 * the socket cancels its lookup, as the old server ended its browser. Each inspection photo the flow
 * saves is sent as `pending` with key `image.<n>` and the URL of the artifact as value (fetched with the
 * same API key), as the old server sent the images after the data.
 */
import type { Principal } from "../../auth/principal.ts";
import type { Deps } from "../../deps.ts";
import { ConflictError, toProblem, ValidationError } from "../../errors.ts";
import { apiKeyIdOf, ownerOf } from "../access.ts";
import type { SessionEvent } from "../hub.ts";
import type { PromptView } from "../runtime.ts";
import { FINAL_STATUSES, type SessionService, type SessionStatus } from "../sessions.ts";

/** The flow behind the mobile app's lookups. */
export const VEHICLE_FLOW = "vehicle-lookup";
/** Longest text message the app may send (a plate or an SMS code). */
export const MAX_TEXT_CHARS = 100;

/** One message of the car-thingy protocol. */
export type VehicleMessage =
  | { status: "pending"; percentage: number; key: string; value: unknown }
  | { status: "waiting"; percentage: 100; key: "input"; value: string }
  | { status: "success"; percentage: 100; key: "message" }
  | { status: "fail"; percentage: 100; key: "message"; value: string };

/** Where the messages go: the socket, as its route hands it over. */
export interface VehiclePeer {
  send(msg: VehicleMessage): void;
  /** Counts a refused message (the socket closes abusive peers). */
  fault?(): void;
}

/** The running lookup: its session (once started), its follower, the open code prompt, the images sent. */
interface Lookup {
  id?: string;
  off?: () => void;
  promptId?: string;
  percentage: number;
  images: number;
}

/** Where a client downloads a session's artifact (GET /api/v1/sessions/:id/artifacts/:name). */
export type ArtifactUrl = (sessionId: string, name: string) => string;

/** A problem's detail plus its field messages, as one line for the app. */
function describeError(err: unknown): string {
  const { problem } = toProblem(err);
  const fields = (problem.errors as { message: string }[] | undefined)?.map((e) => e.message) ?? [];
  return [problem.detail ?? problem.title, ...fields].join(": ");
}

/** One mobile app's socket: `receive` each message, `close` when the socket goes. */
export class VehicleLookupSocket {
  readonly #sessions: SessionService;
  readonly #log: Deps["log"];
  readonly #owner: string;
  readonly #apiKeyId: string | undefined;
  readonly #peer: VehiclePeer;
  readonly #artifactUrl: ArtifactUrl;
  #lookup: Lookup | undefined;
  #closed = false;

  constructor(
    deps: { sessions: SessionService; log: Deps["log"] },
    options: { principal: Principal; peer: VehiclePeer; artifactUrl: ArtifactUrl },
  ) {
    this.#sessions = deps.sessions;
    this.#log = deps.log;
    this.#owner = ownerOf(options.principal);
    this.#apiKeyId = apiKeyIdOf(options.principal);
    this.#peer = options.peer;
    this.#artifactUrl = options.artifactUrl;
  }

  /** A message from the app: a plate starts a lookup; while a code is asked, text answers it. */
  async receive(data: unknown): Promise<void> {
    if (typeof data !== "string" || data.length > MAX_TEXT_CHARS) {
      this.#fail(
        `Send the licence plate, or the SMS code when asked, as text of at most ${MAX_TEXT_CHARS} characters`,
      );
      this.#peer.fault?.();
      return;
    }
    const text = data.trim();
    if (!this.#lookup) return await this.#start(text);
    const current = this.#lookup;
    const { id, promptId } = current;
    if (!id || !promptId) {
      // A lookup is running and asks nothing: one lookup per socket at a time.
      this.#log.debug("legacy lookup message ignored: no code is asked", { session_id: id });
      return;
    }
    current.promptId = undefined;
    try {
      await this.#sessions.answer(id, promptId, text);
    } catch (err) {
      if (!(err instanceof ValidationError) && !(err instanceof ConflictError)) {
        this.#log.error("answering a legacy lookup's code failed", { session_id: id, error: err });
      }
      if (this.#lookup !== current || !(err instanceof ValidationError)) return; // stale: the session moved on
      current.promptId = promptId;
      this.#peer.send({ status: "waiting", percentage: 100, key: "input", value: describeError(err) });
    }
  }

  /** The socket is gone: the running lookup is cancelled. */
  close(): void {
    this.#closed = true;
    const current = this.#lookup;
    this.#lookup = undefined;
    current?.off?.();
    if (current?.id) this.#cancel(current.id);
  }

  async #start(plate: string): Promise<void> {
    const current: Lookup = { percentage: 0, images: 0 };
    this.#lookup = current;
    let id: string;
    try {
      id =
        (await this.#sessions.start(this.#owner, VEHICLE_FLOW, { plate }, { apiKeyId: this.#apiKeyId })).id;
    } catch (err) {
      if (this.#lookup === current) this.#lookup = undefined;
      this.#fail(describeError(err));
      return;
    }
    current.id = id;
    if (this.#closed) return this.#cancel(id);
    current.off = this.#sessions.subscribe(id, 0, (event) => this.#follow(current, id, event));
    if (this.#lookup !== current) current.off(); // it ended while subscribing
  }

  #follow(current: Lookup, id: string, event: SessionEvent): void {
    if (this.#lookup !== current) return;
    if (event.type === "progress") {
      current.percentage = Number(event.data.percentage);
      if (typeof event.data.key !== "string") return;
      this.#peer.send({
        status: "pending",
        percentage: current.percentage,
        key: event.data.key,
        value: event.data.value,
      });
    } else if (event.type === "artifact" && String(event.data.content_type).startsWith("image/")) {
      const key = `image.${++current.images}`;
      const value = this.#artifactUrl(id, String(event.data.name));
      this.#peer.send({ status: "pending", percentage: current.percentage, key, value });
    } else if (event.type === "prompt") {
      const prompt = event.data.prompt as PromptView;
      if (prompt.kind !== "code") {
        // The protocol has no way to ask for credentials (or anything but the SMS code).
        this.#done(current);
        this.#fail(
          `The vehicle registry asks for ${prompt.kind}, which this client cannot answer; ` +
            `the server needs FLOW_SECRETS for ${VEHICLE_FLOW}`,
        );
        this.#cancel(id);
        return;
      }
      current.promptId = prompt.id;
      this.#peer.send({
        status: "waiting",
        percentage: 100,
        key: "input",
        value: prompt.error ? `${prompt.error}. ${prompt.message}` : prompt.message,
      });
    } else if (event.type === "prompt_closed" || event.type === "answer") {
      current.promptId = undefined;
    } else if (event.type === "status" && FINAL_STATUSES.includes(event.data.status as SessionStatus)) {
      this.#done(current);
      if (event.data.status === "succeeded") {
        this.#peer.send({ status: "success", percentage: 100, key: "message" });
      } else this.#fail(String(event.data.error ?? `The lookup was ${event.data.status}`));
    }
  }

  #done(current: Lookup): void {
    current.off?.();
    if (this.#lookup === current) this.#lookup = undefined;
  }

  #fail(value: string): void {
    this.#peer.send({ status: "fail", percentage: 100, key: "message", value });
  }

  #cancel(id: string): void {
    void this.#sessions.cancel(id).catch((err) =>
      this.#log.error("cancelling a legacy lookup failed", { session_id: id, error: err })
    );
  }
}
