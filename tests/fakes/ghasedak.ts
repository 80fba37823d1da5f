/**
 * A local fake of Ghasedak's SMS web service for tests: `POST /rest/api/v1/WebService/SendSingleSMS`, the one
 * call gatehouse's `ghasedak` provider makes, with every accepted message recorded.
 *
 * It follows what Ghasedak documents (https://ghasedak.me/docs) and what its `ghasedak_sms` SDKs send:
 * - The key comes in the `ApiKey` header; a missing or unknown key is refused.
 * - The body is JSON. Field names are matched without regard to case, as the ASP.NET service does: the
 *   Python SDK sends `LineNumber`/`Receptor`/`Message`, the Node one `linenumber`/`receptor`/`message`.
 * - `receptor` and `message` are required; without them ASP.NET answers 400 with its validation problem.
 * - Answers are the envelope `{IsSuccess, StatusCode, Message, Data}`; a sent message's `Data` holds
 *   `Receptor`, `LineNumber`, `Cost`, `MessageId`, `Message` and `SendDate`.
 * The docs list error codes but not each one's wire form, so the refusals here are this fake's choice within
 * that envelope: HTTP 401 for a bad key, HTTP 200 with `IsSuccess: false` for `mode = "refuse"`.
 */

/** One message Ghasedak accepted. */
export interface GhasedakMessage {
  receptor: string;
  message: string;
  lineNumber: string | null;
}

/** What the fake does with the next valid request. */
export type GhasedakMode = "accept" | "refuse" | "error" | "hang";

const SEND_PATH = "/rest/api/v1/WebService/SendSingleSMS";

/** The fake service; `await using` shuts it down. */
export class FakeGhasedak implements AsyncDisposable {
  /** Base URL to put in GHASEDAK_BASE_URL. */
  readonly url: string;
  /** Messages accepted, in order. */
  readonly sent: GhasedakMessage[] = [];
  /** Every request that reached the send path, valid or not. */
  requests = 0;
  /**
   * `accept` (default); `refuse`: HTTP 200 with `IsSuccess: false`; `error`: HTTP 500; `hang`: no answer
   * until the fake closes.
   */
  mode: GhasedakMode = "accept";
  readonly #apiKey: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #holds = new Set<() => void>();
  #messageId = 1000;

  constructor(options: { apiKey?: string } = {}) {
    this.#apiKey = options.apiKey ?? "test-api-key";
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path.toLowerCase() !== SEND_PATH.toLowerCase()) return new Response(null, { status: 404 });
    if (req.method !== "POST") return new Response(null, { status: 405 });
    this.requests++;
    if (req.headers.get("apikey") !== this.#apiKey) {
      await req.body?.cancel();
      return envelope(401, { IsSuccess: false, StatusCode: 401, Message: "ApiKey is invalid", Data: null });
    }
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return problem({ "$": ["The JSON value could not be converted."] });
    }
    const field = (name: string) => {
      if (!body || typeof body !== "object") return undefined;
      const key = Object.keys(body).find((k) => k.toLowerCase() === name.toLowerCase());
      const value = key === undefined ? undefined : (body as Record<string, unknown>)[key];
      return typeof value === "string" ? value : undefined;
    };
    const receptor = field("receptor"), message = field("message"), lineNumber = field("lineNumber");
    const missing: Record<string, string[]> = {};
    if (!receptor) missing.Receptor = ["The Receptor field is required."];
    if (!message) missing.Message = ["The Message field is required."];
    if (Object.keys(missing).length) return problem(missing);

    switch (this.mode) {
      case "error":
        return new Response("Internal Server Error", { status: 500 });
      case "refuse":
        return envelope(200, {
          IsSuccess: false,
          StatusCode: 400,
          Message: "refused by the fake",
          Data: null,
        });
      case "hang":
        // Held until close(): the caller's own timeout is what the test is about.
        await new Promise<void>((resolve) => this.#holds.add(resolve));
        return new Response(null, { status: 504 });
    }
    this.sent.push({ receptor: receptor!, message: message!, lineNumber: lineNumber ?? null });
    return envelope(200, {
      IsSuccess: true,
      StatusCode: 200,
      Message: "با موفقیت انجام شد",
      Data: {
        Receptor: receptor,
        LineNumber: lineNumber ?? "30005088",
        Cost: 1,
        MessageId: String(++this.#messageId),
        Message: message,
        SendDate: new Date().toISOString(),
      },
    });
  }

  /** Releases hanging requests and stops listening. */
  async close(): Promise<void> {
    for (const release of this.#holds) release();
    this.#holds.clear();
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function envelope(status: number, body: Record<string, unknown>): Response {
  return Response.json(body, { status });
}

/** ASP.NET Core's automatic 400 for a model that fails validation. */
function problem(errors: Record<string, string[]>): Response {
  return Response.json({
    type: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    title: "One or more validation errors occurred.",
    status: 400,
    errors,
  }, { status: 400, headers: { "content-type": "application/problem+json; charset=utf-8" } });
}
