/** GET /openapi.json (the OpenAPI 3.1 document of the mounted app) and GET /docs (Scalar's reference page). */
import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import type { Deps } from "../src/deps.ts";
import type { AppEnv } from "../src/http.ts";
import { openApiDocument } from "../src/openapi/mod.ts";

/** The API description routes; `app` is the whole app, read on the first request (after every mount). */
export function openApiRoutes(deps: Pick<Deps, "config">, app: () => Pick<Hono, "routes">) {
  let doc: Record<string, unknown> | undefined;
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) => {
      doc ??= openApiDocument(app(), { smartyardPrefix: deps.config.SMARTYARD_PREFIX });
      return c.json(doc);
    })
    .get("/docs", Scalar({ url: "/openapi.json", pageTitle: "gatehouse API reference" }));
}
