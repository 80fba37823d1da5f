/**
 * cluster: answers, cancels and extends for a session run by another instance travel over NOTIFY to the
 * instance that runs it, which applies them and replies. Answers can be secret (passwords, codes), so a
 * command travels sealed: AES-256-GCM under a key derived from JWT_SECRET with HKDF-SHA256 (info
 * `gatehouse session commands`); only gatehouse instances, which hold JWT_SECRET, can read it, and the
 * Postgres log or a listener on the channel sees ciphertext. Replies carry only the outcome.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { DbHandle } from "../../db/client.ts";
import { AppError, ServiceUnavailableError, ValidationError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** The NOTIFY channel of commands and their replies. */
export const COMMAND_CHANNEL = "gatehouse_session_cmd";

/** What one instance asks the instance running a session to do. */
export type SessionCommand =
  | { op: "answer"; prompt: string; value: unknown }
  | { op: "cancel" }
  | { op: "extend"; seconds: number };

/** Applies `command` to `id` if this instance runs it: false when it does not (another instance may). */
export type ApplyCommand = (id: string, command: SessionCommand) => Promise<boolean>;

/** Applies `command` through `sessions` if this instance runs `id`; false when it does not. */
export async function applyHere(
  sessions: {
    runsHere(id: string): boolean;
    answer(id: string, prompt: string, value: unknown): Promise<void>;
    cancel(id: string): Promise<unknown>;
    extend(id: string, seconds: number): Promise<unknown>;
  },
  id: string,
  command: SessionCommand,
): Promise<boolean> {
  if (!sessions.runsHere(id)) return false;
  if (command.op === "answer") await sessions.answer(id, command.prompt, command.value);
  else if (command.op === "cancel") await sessions.cancel(id);
  else await sessions.extend(id, command.seconds);
  return true;
}

/** NOTIFY payloads must stay under 8000 bytes; leave room for the envelope. */
const MAX_SEALED_CHARS = 7000;

/** Seals and opens command payloads with a key derived from `secret`. */
export class CommandSeal {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = Buffer.from(hkdfSync("sha256", secret, "gatehouse", "gatehouse session commands", 32));
  }

  /** base64(iv ‖ tag ‖ ciphertext) of `value` as JSON. */
  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64");
  }

  /** The value sealed in `text`; throws when it was tampered with or sealed under another key. */
  open(text: string): unknown {
    const raw = Buffer.from(text, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"));
  }
}

interface Pending {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Sends commands to the instance running a session and applies the ones sent here. */
export class CommandRelay implements AsyncDisposable {
  readonly #handle: Pick<DbHandle, "listen" | "notify">;
  readonly #seal: CommandSeal;
  readonly #log: Logger;
  readonly #apply: ApplyCommand;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  #unlisten?: () => Promise<void>;

  constructor(
    handle: Pick<DbHandle, "listen" | "notify">,
    options: { secret: string; log: Logger; apply: ApplyCommand; timeoutMs?: number },
  ) {
    this.#handle = handle;
    this.#seal = new CommandSeal(options.secret);
    this.#log = options.log;
    this.#apply = options.apply;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Starts applying commands sent by other instances. */
  async listen(): Promise<void> {
    this.#unlisten = await this.#handle.listen(COMMAND_CHANNEL, (p) => void this.#receive(p));
  }

  /** Has the instance running `id` apply `command`; its refusal is thrown here; 503 when none answers. */
  async send(id: string, command: SessionCommand): Promise<void> {
    const reply = crypto.randomUUID();
    const sealed = this.#seal.seal({ session_id: id, ...command });
    if (sealed.length > MAX_SEALED_CHARS) {
      throw new ValidationError([{ field: "value", message: "is too large to forward to another instance" }]);
    }
    const done = new Promise<void>((resolve, reject) => this.#pending.set(reply, { resolve, reject }));
    const timer = setTimeout(() => {
      this.#pending.get(reply)?.reject(
        new ServiceUnavailableError(`No instance answered for session ${id}; try again`, 2),
      );
    }, this.#timeoutMs);
    try {
      await this.#handle.notify(COMMAND_CHANNEL, JSON.stringify({ kind: "cmd", reply, sealed }));
      await done;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(reply);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  async #receive(payload: string): Promise<void> {
    let msg: {
      kind?: string;
      reply?: string;
      sealed?: string;
      ok?: boolean;
      problem?: Record<string, unknown>;
    };
    try {
      msg = JSON.parse(payload);
    } catch {
      return this.#log.warn("session commands: unreadable message ignored");
    }
    if (typeof msg.reply !== "string") return;
    if (msg.kind === "reply") {
      const pending = this.#pending.get(msg.reply);
      if (!pending) return;
      if (msg.ok) return pending.resolve();
      const p = msg.problem ?? {};
      return pending.reject(
        new AppError(Number(p.status) || 500, String(p.title ?? "Error"), String(p.detail ?? "")),
      );
    }
    if (msg.kind !== "cmd" || typeof msg.sealed !== "string") return;
    let command: SessionCommand & { session_id: string };
    try {
      command = this.#seal.open(msg.sealed) as SessionCommand & { session_id: string };
    } catch {
      return this.#log.warn("session commands: a command that does not open with our key was ignored");
    }
    let answer: { ok: boolean; problem?: Record<string, unknown> };
    try {
      if (!(await this.#apply(command.session_id, command))) return; // not ours: the owner replies
      answer = { ok: true };
    } catch (err) {
      const e = err instanceof AppError
        ? err
        : new AppError(500, "Internal Server Error", "The command failed");
      if (!(err instanceof AppError)) this.#log.error("session commands: apply failed", { error: err });
      answer = { ok: false, problem: { status: e.status, title: e.title, detail: e.message } };
    }
    await this.#handle.notify(COMMAND_CHANNEL, JSON.stringify({ kind: "reply", reply: msg.reply, ...answer }))
      .catch((err) => this.#log.warn("session commands: reply failed", { error: err }));
  }
}
