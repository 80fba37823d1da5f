/**
 * A request body must arrive within REQUEST_BODY_TIMEOUT_MS: a client trickling (or withholding) its body
 * gets a 408 and its connection is closed, instead of holding a handler and a socket open for as long as
 * it likes. Deno.serve has no read timeouts of its own (denoland/deno#3515): how long the request line and
 * headers take and how long a kept-alive connection idles are limited by the connection guard
 * (src/conn_guard.ts) or the proxy in front.
 */
import type { MiddlewareHandler } from "hono";
import { problemResponse, RequestTimeoutError, toProblem } from "./errors.ts";
import type { AppEnv } from "./http.ts";

/** Middleware that fails a request whose body has not fully arrived `timeoutMs` after the handler began. */
export function bodyTimeout(timeoutMs: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body || timeoutMs <= 0) return await next();
    const reader = body.getReader();
    const deadline = performance.now() + timeoutMs;
    let timedOut = false;
    const timed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const expired = new Promise<"expired">((resolve) => {
          timer = setTimeout(() => resolve("expired"), Math.max(0, deadline - performance.now()));
        });
        const chunk = await Promise.race([reader.read(), expired]).finally(() => clearTimeout(timer));
        if (chunk === "expired") {
          timedOut = true;
          reader.cancel().catch(() => {});
          controller.error(new RequestTimeoutError(timeoutMs));
        } else if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    c.req.raw = new Request(c.req.raw, { body: timed, duplex: "half" } as RequestInit);
    await next();
    if (timedOut) {
      // whatever the handler made of the broken body, the answer is a 408 and the connection ends
      const { problem, headers } = toProblem(new RequestTimeoutError(timeoutMs), c.req.path);
      c.res = undefined;
      c.res = problemResponse(problem, { ...headers, connection: "close" });
    }
  };
}
