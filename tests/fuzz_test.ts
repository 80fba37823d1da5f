/**
 * Fuzzing from /openapi.json (issue 15): every documented route, the old clients' PHP-style ones included,
 * gets malformed requests (wrong types, NUL and control characters, huge strings, bad JSON, wrong content
 * types, bad multipart, path traversal, bad UUIDs, empty and repeated parameters). None may answer ≥ 500 and
 * none may change the database. The SmartYard apps' routes are also fuzzed with a logged-in app user's token,
 * so their own validation answers rather than their 401 (tests/fuzz_smartyard.ts). A seeded PRNG makes a run
 * reproducible (FUZZ_SEED); a URL-valued field only ever points at 127.0.0.1 or is invalid, and SmartYard's
 * billing, bank and door panel are fakes on 127.0.0.1, so the server is never made to call another address.
 */
import assert from "node:assert/strict";
import { builtinFlows } from "../src/automation/flows/mod.ts";
import { createAutomation } from "../src/automation/mod.ts";
import { BrowserPool } from "../src/automation/pool.ts";
import { ADMIN } from "./fota_fixtures.ts";
import { dbFingerprint } from "./db_fingerprint.ts";
import type { TestApp } from "./helpers.ts";
import { APP_BODIES, type FuzzCase, smartyardCases } from "./fuzz_smartyard.ts";
import { billPhone, CLIENT_ID, expectJson, seedHouse, smartyardWorld } from "./smartyard_helpers.ts";

type Json = Record<string, unknown>;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 15);
const random = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const control = () => String.fromCharCode(pick([0, 1, 7, 8, 11, 27, 31, 127]));
const huge = () => "A".repeat(1000 + Math.floor(random() * 60_000)) + "\u0000";

/** Path parameter values: NUL, traversal, bad UUIDs, CRLF, overlong, a UUID that names nothing. */
const BAD_SEGMENTS = [
  "%00",
  "..%2F..%2Fetc%2Fpasswd",
  "..",
  "not-a-uuid",
  "00000000-0000-0000-0000-00000000000g",
  "%FF%FE",
  "%0d%0aX-Injected:%20x",
  "-1",
  "1e309",
  "%F0%9F%92%A9%00",
  () => "a".repeat(4000),
  () => crypto.randomUUID(),
] as const;
const segment = () => {
  const s = pick(BAD_SEGMENTS);
  return typeof s === "function" ? s() : s;
};

/** Query values: empty, NUL, control characters, huge, wrong types, URLs that go nowhere but 127.0.0.1. */
const BAD_QUERY = [
  "",
  "%00",
  "%01%1F",
  "-1",
  "NaN",
  "1e309",
  "true%00",
  "%E0%A4%A",
  "http://127.0.0.1:1/%00",
  "[]",
];

/** A value of the wrong type (or holding a NUL) for `schema`: never a valid one. */
function badValue(schema: Json | undefined): unknown {
  const type = schema?.type;
  const r = random();
  if (r < 0.3) return `x${control()}y`; // NUL and control characters
  if (r < 0.4) return huge();
  if (type === "string") {
    if (schema?.format === "uri") {
      return pick(["http://127.0.0.1:1/\u0000", "ht!tp://", "javascript:alert(1)"]);
    }
    return pick([12345, true, null, [], { a: "\u0000" }]);
  }
  if (type === "integer" || type === "number") return pick(["12", "NaN\u0000", 1e309, -1.5, null, {}]);
  if (type === "boolean") return pick(["yes\u0000", 1, null, []]);
  if (type === "array") return pick(["\u0000", { a: 1 }, [null, "\u0000"], 7]);
  if (type === "object") return pick(["\u0000", [1], 7, null]);
  return "\u0000";
}

function fill(path: string): string {
  return path.replace(/\{[^}]+\}/g, () => segment());
}

/** Bodies that are not what a JSON route takes: bad JSON, other types, bad multipart, too big. */
function badBodies(): { type: string; body: string }[] {
  return [
    { type: "application/json", body: '{"a": "b"' },
    { type: "application/json", body: "[]" },
    { type: "application/json", body: "null" },
    { type: "application/json", body: '"\\u0000"' },
    { type: "application/json", body: '{"\\u0000": "\\u0000"}' },
    { type: "application/json", body: "\u0000\u0001" },
    { type: "text/plain", body: '{"a":1}' },
    { type: "application/x-www-form-urlencoded", body: "a=%00&a=&b=%zz" },
    { type: "multipart/form-data", body: "--x\r\nfoo\r\n" },
    { type: "multipart/form-data; boundary=zzz", body: "--x\r\n\r\n--zzz" },
    { type: "application/json", body: JSON.stringify({ pad: "x".repeat(70 * 1024) }) },
  ];
}

/** The old clients' field names, for routes whose fields the document does not list. */
const LEGACY_FIELDS = [
  "imei",
  "data",
  "d",
  "fw",
  "sr",
  "phone",
  "code",
  "otp",
  "token",
  "userPhone",
  "smsCode",
];

function cases(
  doc: { paths: Record<string, Record<string, Json>> },
  user: Record<string, string>,
): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [lower, op] of Object.entries(item)) {
      const method = lower.toUpperCase();
      const security = (op.security ?? []) as Record<string, unknown>[];
      const userOnly = security.length > 0 && security.every((s) => "userToken" in s || "guestToken" in s);
      const auth = userOnly ? user : ADMIN;
      const params = (op.parameters ?? []) as { in: string; name: string; schema?: Json }[];
      const schema = ((op.requestBody as Json | undefined)?.content as Json | undefined)
        ?.["application/json"] as
          | { schema?: Json }
          | undefined;
      const props = (schema?.schema?.properties ?? {}) as Record<string, Json>;
      const query = params.filter((p) => p.in === "query").map((p) => p.name);
      const legacy = /\.php$|^\/api\/(otp|device|checkDevice|user|address|cctv|pay|ext)/.test(path);
      const hasInput = params.length > 0 || schema || legacy;
      // Routes without inputs get only bad credentials: a well-formed call to them is not malformed.
      if (!hasInput) {
        for (
          const h of [
            { authorization: "Bearer \u0001" },
            { authorization: `Bearer ${"A".repeat(20_000)}` },
            {},
          ]
        ) {
          out.push({ method, path, headers: h as Record<string, string> });
        }
        continue;
      }
      // bad path parameters
      if (path.includes("{")) {
        for (let i = 0; i < 8; i++) out.push({ method, path: fill(path), headers: auth });
      }
      const concrete = () => path.replace(/\{[^}]+\}/g, () => crypto.randomUUID());
      // bad, empty and repeated query parameters
      for (const name of [...query, ...(legacy ? LEGACY_FIELDS : [])]) {
        for (let i = 0; i < 3; i++) {
          const v = pick(BAD_QUERY);
          out.push({
            method,
            path: `${concrete()}?${name}=${v}&${name}=${pick(BAD_QUERY)}&${name}`,
            headers: auth,
          });
        }
      }
      if (method === "GET" || method === "DELETE") continue;
      // bad JSON members, one at a time, per documented property (or the old clients' names)
      const names = Object.keys(props).length ? Object.keys(props) : legacy ? LEGACY_FIELDS : ["x"];
      for (const name of names) {
        for (let i = 0; i < 4; i++) {
          out.push({
            method,
            path: concrete(),
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ [name]: badValue(props[name]) }),
          });
        }
      }
      // bad bodies and content types
      for (const { type, body } of badBodies()) {
        out.push({ method, path: concrete(), headers: { ...auth, "content-type": type }, body });
      }
      if (legacy) {
        for (const name of LEGACY_FIELDS) {
          out.push({
            method,
            path: concrete(),
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: `${name}=%00&${name}=&${name}=${encodeURIComponent(huge())}`,
          });
        }
      }
    }
  }
  // the demo portal's forms (not in the document: they are pages)
  for (
    const path of ["/demo/registry/login", "/demo/registry/2fa", "/demo/tax/login", "/demo/booking/book"]
  ) {
    for (const { type, body } of badBodies()) {
      out.push({
        method: "POST",
        path,
        headers: { "content-type": type },
        body,
      });
    }
    for (const name of ["username", "password", "captcha", "code", "slot_id"]) {
      out.push({
        method: "POST",
        path,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `${name}=%00&${name}=${encodeURIComponent(huge())}`,
      });
    }
  }
  return out;
}

/** The apps' routes that take a SmartYard token (required, or optional as on pay/register), per the document. */
function smartyardRoutes(doc: { paths: Record<string, Record<string, Json>> }): string[] {
  return Object.entries(doc.paths).filter(([, item]) =>
    Object.values(item).some((op) =>
      ((op.security ?? []) as Record<string, unknown>[]).some((s) => "smartyardToken" in s)
    )
  ).map(([path]) => path);
}

Deno.test({
  name: "≥ 2,000 malformed requests from /openapi.json, ≥ 300 of them past the SmartYard apps' login: " +
    "no answer ≥ 500, and the database is unchanged",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // the app as main.ts builds it, with browser automation (Chromium starts only with a session: never here),
    // and SmartYard's billing, bank and door panel as fakes on 127.0.0.1
    await using w = await smartyardWorld({
      config: { OTP_IP_MAX_PER_HOUR: "100000", WEBHOOK_ALLOW_PRIVATE: "false", DEMO_PORTAL: "true" },
      deps: (base) => ({
        automation: createAutomation(base, {
          flows: builtinFlows,
          pool: new BrowserPool({ log: base.log }),
          portalUrl: "http://127.0.0.1:1/demo",
        }),
      }),
    });
    const t = w.t;
    await using _automation = { [Symbol.asyncDispose]: () => t.deps.automation!.close() };
    // rows for the routes to find: a user and their login, a device, a camera
    const login = await t.login();
    const user = { authorization: `Bearer ${login.access_token}` };
    const made = await t.json(
      "POST",
      "/api/v1/devices",
      { imei: "356938035643809", user_id: login.user.id },
      ADMIN,
    );
    assert.equal(made.status, 201, await made.text());
    await (await t.json("POST", "/api/v1/cameras", { stream: "fuzz-1", title: "Fuzz" }, ADMIN)).body
      ?.cancel();
    // an app user with a house, a door, a contract in billing and a prepared invoice, logged in
    await seedHouse(w, { doorCamera: true });
    billPhone(w);
    const token = await w.login();
    await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, token), 200);
    const doc = await (await t.app.request("/openapi.json")).json();
    const all = cases(doc, user);
    while (all.length < 2_000) all.push(...cases(doc, user).slice(0, 2_000 - all.length));
    const prefix = t.deps.config.SMARTYARD_PREFIX;
    const appRoutes = smartyardRoutes(doc);
    for (const route of Object.keys(APP_BODIES)) assert.ok(appRoutes.includes(prefix + route), route);
    const app = smartyardCases(appRoutes, { prefix, token, pick });
    const before = await dbFingerprint(t.db.db);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let appAuthenticated = 0;
    for (const c of [...all, ...app]) {
      const status = await send(t.app, c, failures);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (c.headers.authorization !== `Bearer ${token}`) continue;
      if (status !== 401) appAuthenticated++;
      if (status < 400) failures.push(`${c.path} ${String(c.body).slice(0, 120)} → ${status} (not refused)`);
    }
    const after = await dbFingerprint(t.db.db);
    console.log(
      `fuzz seed ${SEED}: ${all.length + app.length} requests, ${appAuthenticated} past the apps' login`,
      Object.fromEntries([...statuses].sort()),
    );
    assert.deepEqual(failures, [], "no answer ≥ 500, and every malformed app request refused");
    assert.equal(appAuthenticated, app.length, "the app token is valid for every app request");
    assert.ok(
      appAuthenticated >= 300,
      `only ${appAuthenticated} requests reached the apps' routes past login`,
    );
    assert.deepEqual(after, before, "the database is unchanged");
  },
});

/** Sends `c`; answers its status (599 when the app threw) and records a failure for any status ≥ 500. */
async function send(
  app: TestApp["app"],
  c: FuzzCase,
  failures: string[],
): Promise<number> {
  try {
    const res = await app.request(c.path, { method: c.method, headers: c.headers, body: c.body });
    if (res.status < 500) {
      await res.body?.cancel();
      return res.status;
    }
    const text = (await res.text()).slice(0, 160);
    failures.push(
      `${c.method} ${c.path.slice(0, 120)} ${String(c.body ?? "").slice(0, 80)} → ${res.status} ${text}`,
    );
    return res.status;
  } catch (err) {
    failures.push(`${c.method} ${c.path.slice(0, 120)} threw ${(err as Error).message.slice(0, 200)}`);
    return 599;
  }
}
