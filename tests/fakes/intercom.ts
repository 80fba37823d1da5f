/**
 * An intercom panel that opens doors on an HTTP GET, Beward style: `GET /cgi-bin/intercom_cgi?action=maindoor`
 * (door 0) or `action=altmaindoor` (door 1), with Basic auth; 401 without the right credentials.
 */
import { LocalServer } from "./local_server.ts";

/** The fake panel; `opens` lists what it was asked to open. */
export class FakePanel extends LocalServer {
  readonly opens: { action: string; at: number }[] = [];
  readonly unauthorized: number[] = [];

  constructor(readonly user = "admin", readonly password = "panel-pass-1") {
    super((req) => this.#handle(req));
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    if (req.method !== "GET" || url.pathname !== "/cgi-bin/intercom_cgi") {
      return new Response("", { status: 404 });
    }
    if (req.headers.get("authorization") !== `Basic ${btoa(`${this.user}:${this.password}`)}`) {
      this.unauthorized.push(Date.now());
      return new Response("401 Unauthorized", { status: 401 });
    }
    const action = url.searchParams.get("action") ?? "";
    if (action !== "maindoor" && action !== "altmaindoor") return new Response("Bad action", { status: 400 });
    this.opens.push({ action, at: Date.now() });
    return new Response("OK");
  }
}
