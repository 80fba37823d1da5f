/** GET /: the web console, GET /console/<file>: its modules and stylesheet, GET /console/settings.json. */
import { Hono } from "hono";
import { type ConsoleAsset, loadConsoleAssets } from "../src/console/assets.ts";
import type { Deps } from "../src/deps.ts";
import { NotFoundError } from "../src/errors.ts";
import type { AppEnv } from "../src/http.ts";

/** Serves the console; the page itself talks only to the public API (REST and the session sockets). */
export function consoleRoutes(deps: Pick<Deps, "config">) {
  let assets: Promise<Map<string, ConsoleAsset>> | undefined;
  const { config } = deps;
  // Hints about the demo portal (where its SMS codes are, approving its BankID) only when flows use it.
  const demo = config.DEMO_PORTAL && config.ENV !== "production" && !config.PORTAL_BASE_URL;
  const serve = async (c: import("hono").Context<AppEnv>, name: string) => {
    const asset = (await (assets ??= loadConsoleAssets())).get(name);
    if (!asset) throw new NotFoundError(`No console file ${name}`);
    const origin = new URL(config.PUBLIC_URL ?? c.req.url);
    const sockets = `ws://${origin.host} wss://${origin.host}`;
    c.header(
      "content-security-policy",
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; ` +
        `connect-src 'self' ${sockets}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    c.header("x-content-type-options", "nosniff");
    // Revalidated on every load (cheap 304s): a deploy is seen at once, no file names to fingerprint.
    c.header("cache-control", "no-cache");
    c.header("etag", asset.etag);
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("content-type", asset.contentType);
    return c.body(asset.body as Uint8Array<ArrayBuffer>);
  };
  return new Hono<AppEnv>()
    .get("/", (c) => serve(c, "index.html"))
    .get("/console/settings.json", (c) => {
      c.header("cache-control", "no-store");
      return c.json({ demo });
    })
    .get("/console/:file{[a-z_]+\\.(?:js|css)}", (c) => serve(c, c.req.param("file")));
}
