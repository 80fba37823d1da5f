/** GET /: the web console. */
import { Hono } from "hono";
import { consolePage } from "../src/console/page.ts";
import type { AppEnv } from "../src/http.ts";

/** Serves the console page; the page itself talks only to the public API. */
export function consoleRoutes() {
  return new Hono<AppEnv>().get("/", (c) => {
    c.header("cache-control", "no-cache");
    c.header(
      "content-security-policy",
      "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
    );
    return c.html(consolePage);
  });
}
