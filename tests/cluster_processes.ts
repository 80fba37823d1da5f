/** Helpers of the two-process cluster test: real `src/main.ts` servers, an SMS recorder, SSE and socket readers. */
import postgres from "postgres";

/** A server process started from src/main.ts. */
export interface ServerProcess extends AsyncDisposable {
  base: string;
  child: Deno.ChildProcess;
  /** Sends `signal` and resolves to the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A fresh database on the Postgres of `url`, dropped on dispose. */
export async function freshDatabase(url: string): Promise<{ url: string } & AsyncDisposable> {
  const name = `gh_2p_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async [Symbol.asyncDispose]() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/** Starts `deno run -A src/main.ts` with `env` on `port` and waits for /health. */
export async function startServer(port: number, env: Record<string, string>): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "src/main.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...env, PORT: String(port) },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s.code;
  });
  const end = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`server on ${port} exited at start`);
    const ok = await fetch(`${base}/health`).then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (ok) break;
    if (Date.now() > end) throw new Error(`server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) child.kill(signal);
    return await status;
  };
  return { base, child, stop, [Symbol.asyncDispose]: async () => void await stop("SIGKILL") };
}

/** An HTTP server that records the SMS gatehouse sends through SMS_PROVIDER=http. */
export function smsRecorder(): { url: string; codeFor(phone: string): Promise<string> } & AsyncDisposable {
  const sent: { to: string; text: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    sent.push(await req.json());
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/sms`,
    async codeFor(phone: string) {
      const msg = await until(() => [...sent].reverse().find((m) => m.to === phone), `an SMS to ${phone}`);
      return msg.text.match(/\d{4,10}/)![0];
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Polls `fn` every 50 ms until it returns a truthy value; fails after `timeoutMs` (a bound, not an assertion). */
export async function until<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 60_000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One SSE event as read off the wire. */
export interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response into `events` until the stream ends; `done` resolves then. */
export function readSse(res: Response): { events: SseEvent[]; done: Promise<void> } {
  const events: SseEvent[] = [];
  const done = (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: "message", data: {} };
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) ev.id = line.slice(3).trim();
            else if (line.startsWith("event:")) ev.event = line.slice(6).trim();
            else if (line.startsWith("data:")) ev.data = JSON.parse(line.slice(5));
          }
          if (block.split("\n").some((l) => l.startsWith("data:"))) events.push(ev);
        }
      }
    } catch {
      // the connection went away: the caller sees `done` and the events read so far
    }
  })();
  return { events, done };
}

/** A WebSocket whose messages and close are recorded. */
export function openSocket(
  url: string,
  headers: Record<string, string> = {},
): {
  messages: Record<string, unknown>[];
  opened: Promise<void>;
  closed: Promise<CloseEvent>;
  ws: WebSocket;
} {
  const ws = new WebSocket(url, { headers });
  const messages: Record<string, unknown>[] = [];
  ws.onmessage = (e) => messages.push(JSON.parse(e.data));
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`socket ${url} failed: ${(e as ErrorEvent).message}`));
  });
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  return { messages, opened, closed, ws };
}
