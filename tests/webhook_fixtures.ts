/** Local webhook receivers (Deno.serve on 127.0.0.1:0) and a scripted session for the webhook tests. */
import type { Db } from "../db/client.ts";
import { SessionStore } from "../src/automation/session_store.ts";
import type { Clock } from "../src/clock.ts";
import type { Config } from "../src/config.ts";
import { createWebhookWorker, sessionOutbox } from "../src/webhooks/mod.ts";
import type { WebhookWorker } from "../src/webhooks/worker.ts";
import { createLogger } from "../src/log.ts";
import { tinyPng } from "./automation_fixtures.ts";

/** One request a receiver got. */
export interface Received {
  /** Path and query the request went to. */
  url: string;
  headers: Headers;
  body: string;
  json: Record<string, unknown>;
}

/** A receiver that records requests and answers what `answer` says (204 by default). */
export interface Receiver extends AsyncDisposable {
  url: string;
  port: number;
  received: Received[];
  answer: (req: Received, n: number) => Response | Promise<Response>;
}

/** Starts a receiver on 127.0.0.1 (on `port` when given, to come back where a downed one was). */
export function receiver(port = 0): Receiver {
  const r = {
    received: [] as Received[],
    answer: (() => new Response(null, { status: 204 })) as Receiver["answer"],
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const body = await req.text();
    const u = new URL(req.url);
    const got = { url: u.pathname + u.search, headers: req.headers, body, json: JSON.parse(body) };
    r.received.push(got);
    return await r.answer(got, r.received.length);
  });
  return Object.assign(r, {
    port: server.addr.port,
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}

/** A worker on `deps` (not started), quiet. */
export function worker(
  deps: { db: Db; clock: Clock; config: Config },
  options: { name?: string; pollMs?: number; closeGraceMs?: number } = {},
): WebhookWorker {
  return createWebhookWorker({ ...deps, log: createLogger("silent") }, { pollMs: 10, ...options });
}

/** A session store that writes the webhook outbox, as the session service's does. */
export function outboxStore(deps: { db: Db; clock: Clock; config: Config }): SessionStore {
  return new SessionStore({ db: deps.db, clock: deps.clock, outbox: sessionOutbox(deps.config, () => {}) });
}

/**
 * Stores the changes a demo session makes (queued, running, progress, a QR prompt, its answer, the
 * result) through `store`, as a live session would; returns the session id.
 */
export async function scriptedSession(
  store: SessionStore,
  clock: Clock,
  options: { webhookUrl?: string; flow?: string } = {},
): Promise<string> {
  const id = crypto.randomUUID();
  const now = clock.now();
  await store.create({
    id,
    owner: "api",
    flow: options.flow ?? "test-ask-code",
    input: { name: "Hook" },
    webhookUrl: options.webhookUrl ?? null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 600_000),
  });
  let seq = 1;
  const append = async (...args: Parameters<SessionStore["append"]>) => {
    seq += (await store.append(...args)).length;
  };
  await append(id, seq, {
    events: [{ type: "status", data: { status: "running" } }],
    patch: { status: "running", startedAt: now },
  });
  await append(id, seq, {
    events: [{ type: "progress", data: { percentage: 30, key: "step", value: "login" } }],
    patch: { progress: 30 },
  });
  const prompt = {
    id: "p_1",
    kind: "qr",
    message: "Scan",
    expires_at: new Date(now.getTime() + 60_000).toISOString(),
  };
  await append(id, seq, {
    events: [{ type: "status", data: { status: "waiting" } }, { type: "prompt", data: { prompt } }],
    patch: { status: "waiting", prompt, promptImage: tinyPng(1) },
  });
  await store.writePromptImage(id, prompt, tinyPng(2));
  await append(id, seq, {
    events: [{ type: "answer", data: { prompt: "p_1" } }, { type: "status", data: { status: "running" } }],
    patch: { status: "running", prompt: null, promptImage: null },
  });
  await append(id, seq, {
    events: [{ type: "result", data: { result: { ok: true } } }, {
      type: "status",
      data: { status: "succeeded" },
    }],
    patch: { status: "succeeded", result: { ok: true }, finishedAt: now },
  });
  return id;
}

/** The public event types scriptedSession produces, in order. */
export const SCRIPTED_TYPES = [
  "session.started",
  "session.progress",
  "session.prompt",
  "session.prompt",
  "session.completed",
];
