/**
 * The OpenAPI 3.1 document, generated from the mounted app: paths from `app.routes`, request schemas from the
 * zod schemas `validate()` checks (z.toJSONSchema, JSON Schema 2020-12 as OpenAPI 3.1 uses), admin/user auth
 * from `requireAuth`, summaries and other auth from operations.ts. Served at /openapi.json, rendered at /docs.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { authOf, validatorOf } from "./meta.ts";
import { type OperationInfo, operationTable, type OtherAuth } from "./operations.ts";
import { VERSION } from "../version.ts";

type Json = Record<string, unknown>;
type RouteList = Hono["routes"];

/** "METHOD /path" of every mounted route (middleware-only `ALL` entries left out), in mount order. */
export function mountedOperations(routes: RouteList): string[] {
  return [...new Set(routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
}

const problem = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
const err = (description: string) => ({ description, content: problem });

const otherSecurity: Record<OtherAuth, Json[]> = {
  none: [],
  client_secret: [],
  camera_token: [{ cameraToken: [] }],
  ws_ticket: [{ wsTicket: [] }, { userToken: [] }],
  smartyard_token: [{ smartyardToken: [] }],
  bank_callback: [],
  share_guest: [{ guestToken: [] }],
};
const authNotes: Record<OtherAuth, string> = {
  none: "No authentication.",
  client_secret: "Authenticated by the `client_secret` field (CLIENT_SECRET).",
  camera_token: "The camera token in the query string is the credential.",
  ws_ticket: "A one-use `ticket` query parameter (POST /api/v1/ws/tickets) or a Bearer access token.",
  smartyard_token: "The SmartYard app's Bearer token (from confirmCode).",
  bank_callback: "Sberbank's callback, checked by its checksum.",
  share_guest:
    "The guest token a share link was redeemed for (POST /api/v1/shares/redeem), for its one session.",
};

/** Shared sub-schemas, hoisted into components.schemas so every $ref resolves (reset per document). */
let hoisted: Record<string, Json> = {};

/**
 * A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses). A recursive reference (a JSON value inside a
 * JSON value) becomes `{}`, any value: generated TypeScript clients cannot express such unions.
 */
function toJsonSchema(schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Json;
  delete s.$schema;
  const defs = (s.$defs ?? {}) as Record<string, Json>;
  delete s.$defs;
  const base = `S${Object.keys(hoisted).length}`;
  const names = new Map(Object.keys(defs).map((k) => [`#/$defs/${k}`, `${base}_${k}`]));
  const rewrite = (v: unknown, self: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => rewrite(x, self));
    if (!v || typeof v !== "object") return v;
    const ref = (v as Json).$ref;
    if (typeof ref === "string") {
      return ref === self || ref === "#" ? {} : { $ref: `#/components/schemas/${names.get(ref) ?? ref}` };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x, self)]));
  };
  for (const [k, def] of Object.entries(defs)) {
    hoisted[names.get(`#/$defs/${k}`)!] = rewrite(def, `#/$defs/${k}`) as Json;
  }
  return rewrite(s, "#") as Json;
}

/** A Hono path parameter, with its optional `{regex}` (one level of nested braces, as `{8}`). */
const PARAM = /:(\w+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g;

/** `/a/:id{regex}/b` → `/a/{id}/b`, and the names of the path parameters. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const out = path.replace(PARAM, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: out, params };
}

function operation(routes: RouteList, index: number[], key: string, info: OperationInfo): Json {
  const [method, path] = [key.slice(0, key.indexOf(" ")), key.slice(key.indexOf(" ") + 1)];
  const own = index.map((i) => routes[i]);
  // middleware mounted with .use() before the route (same prefix) applies to it too
  const first = Math.min(...index);
  const before = routes.slice(0, first).filter((r) =>
    r.method === "ALL" && r.path.endsWith("/*") && path.startsWith(r.path.slice(0, -1))
  );
  const handlers = [...before, ...own].map((r) => r.handler as object);
  const auth = handlers.map(authOf).find(Boolean);
  const validators = handlers.map(validatorOf).filter((v) => v !== undefined);
  const { params, path: openPath } = openApiPath(path);
  const parameters: Json[] = [];
  const paramSchema = validators.find((v) => v.target === "param");
  const paramProps = paramSchema ? (toJsonSchema(paramSchema.schema).properties ?? {}) as Json : {};
  for (const name of params) {
    parameters.push({ name, in: "path", required: true, schema: paramProps[name] ?? { type: "string" } });
  }
  for (const v of validators.filter((v) => v.target === "query" || v.target === "header")) {
    const s = toJsonSchema(v.schema);
    const required = new Set((s.required ?? []) as string[]);
    for (const [name, schema] of Object.entries((s.properties ?? {}) as Json)) {
      parameters.push({ name, in: v.target, required: required.has(name), schema });
    }
  }
  const body = validators.find((v) => v.target === "json" || v.target === "form");
  const security = auth
    ? auth.allow.map((k) => (k === "admin" ? { adminKey: [] } : { userToken: [] }))
    : otherSecurity[info.auth ?? "none"];
  const who = auth
    ? `Needs ${
      auth.allow.map((k) => (k === "admin" ? "an admin API key" : "a user access token")).join(" or ")
    }.`
    : authNotes[info.auth ?? "none"];
  const responses: Json = { "200": { description: "Success" } };
  if (security.length || info.auth === "client_secret") {
    responses["401"] = err("Missing or invalid credentials");
  }
  if (auth && auth.allow.length === 1) responses["403"] = err("The wrong kind of principal");
  if (params.length) responses["404"] = err("Not found");
  if (validators.length) responses["422"] = err("Invalid input: `errors` lists the fields");
  responses.default = err("Any other error (RFC 9457 problem+json)");
  return {
    operationId: `${method.toLowerCase()}${
      openPath.replace(/\{(\w+)\}/g, "by-$1").replace(
        /[^A-Za-z0-9]+(.)?/g,
        (_m, c) => (c ?? "").toUpperCase(),
      )
    }`,
    summary: info.summary,
    description: who + (info.legacy ? " Legacy: an old client's exact route, kept as it is." : ""),
    tags: [info.legacy ? "legacy" : tagOf(path)],
    ...(info.legacy ? { "x-legacy": true } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(body
      ? {
        requestBody: {
          required: true,
          content: {
            [body.target === "json" ? "application/json" : "application/x-www-form-urlencoded"]: {
              schema: toJsonSchema(body.schema),
            },
          },
        },
      }
      : {}),
    security,
    responses,
  };
}

function tagOf(path: string): string {
  const m = path.match(/^\/api\/v1\/([\w-]+)/);
  return m ? m[1] : path.split("/")[1] || "console";
}

/** The OpenAPI 3.1 document of `app`: every mounted route listed in operations.ts. */
export function openApiDocument(app: Pick<Hono, "routes">, options: { smartyardPrefix?: string } = {}): Json {
  const table = operationTable(options.smartyardPrefix);
  const byKey = new Map<string, number[]>();
  app.routes.forEach((r, i) => {
    if (r.method === "ALL") return;
    const key = `${r.method} ${r.path}`;
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  const paths: Record<string, Json> = {};
  const ids = new Set<string>();
  hoisted = {};
  for (const [key, index] of byKey) {
    const info = table[key.replace(PARAM, ":$1")]; // operations.ts names `:job_id`, not its regex
    if (!info) continue; // tests/openapi_test.ts names every route missing here
    const openPath = openApiPath(key.slice(key.indexOf(" ") + 1)).path;
    const op = operation(app.routes, index, key, info);
    // operationIds are unique (`/captcha` and `/captcha/` both exist): a repeat gets a number
    for (let n = 2; ids.has(op.operationId as string); n++) op.operationId = `${op.operationId}${n}`;
    ids.add(op.operationId as string);
    (paths[openPath] ??= {})[key.slice(0, key.indexOf(" ")).toLowerCase()] = op;
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "gatehouse",
      version: VERSION,
      description: "Phone login, devices, firmware, cameras and browser automation. Every error is " +
        "RFC 9457 application/problem+json.",
    },
    paths,
    components: {
      securitySchemes: {
        adminKey: {
          type: "http",
          scheme: "bearer",
          description: "An admin API key (API_KEYS); also x-api-key",
        },
        userToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A user access token",
        },
        cameraToken: { type: "apiKey", in: "query", name: "token", description: "A camera token" },
        wsTicket: { type: "apiKey", in: "query", name: "ticket", description: "A one-use WebSocket ticket" },
        smartyardToken: { type: "http", scheme: "bearer", description: "A SmartYard app token" },
        guestToken: {
          type: "http",
          scheme: "bearer",
          description: "A share link's guest token (one session)",
        },
      },
      schemas: {
        ...hoisted,
        Problem: {
          type: "object",
          description: "RFC 9457 problem details",
          required: ["type", "title", "status"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string" },
            instance: { type: "string" },
            errors: {
              type: "array",
              items: {
                type: "object",
                properties: { field: { type: "string" }, message: { type: "string" } },
              },
            },
          },
        },
      },
    },
  };
}
