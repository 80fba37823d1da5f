/** A local HTTP server on port 0 for the fakes of outside systems, which can be switched to fail or to hang. */

/** `down`: every request gets HTTP 500; `hang`: requests get no answer until the server closes. */
export type FakeMode = "ok" | "down" | "hang";

/** Serves `handle` on 127.0.0.1 and a free port; `mode` makes it fail like a broken upstream. */
export class LocalServer implements AsyncDisposable {
  mode: FakeMode = "ok";
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #release = Promise.withResolvers<void>();

  constructor(handle: (req: Request) => Response | Promise<Response>) {
    this.#server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
      if (this.mode === "down") return new Response("upstream is down (test)", { status: 500 });
      if (this.mode === "hang") {
        await this.#release.promise;
        return new Response(null, { status: 503 });
      }
      return await handle(req);
    });
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Releases hung requests and stops the server. */
  async close(): Promise<void> {
    this.#release.resolve();
    await this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
