/**
 * The SmartYard apps' routes fuzzed past their 401 (issue 15): malformed requests sent with the Bearer token of
 * a logged-in app user, so each route's own input validation is what answers. Every case is malformed by
 * construction and must be refused with a 4xx: a body that is not a JSON object, or the body an app sends
 * (REFERENCE_SMARTYARD §1.2) with one field missing, emptied, of the wrong type, holding NUL or control
 * characters, too long, or repeated with a bad last value (the one JSON.parse keeps), under the content type
 * the apps send or another one (the routes read the body as JSON whatever its type, as the apps send JSON).
 */

/** One request of a fuzz run. */
export interface FuzzCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: BodyInit;
}

/** A route's body as the apps send it, and which of its fields they may leave out. */
interface AppBody {
  body: Record<string, unknown>;
  optional?: string[];
}

/** What the apps send to the routes that take fields (android and iOS fields together where they differ). */
export const APP_BODIES: Record<string, AppBody> = {
  "user/appVersion": { body: { version: "2.3.1 (45)", platform: "android" } },
  "user/registerPushToken": {
    body: {
      pushToken: "fGx1c2hUb2tlbi0xMjM0NTY3ODkw",
      platform: "ios",
      pushService: "fcm",
      voipToken: "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
      type: 2,
      clientId: "B0A1C2D3-E4F5-4061-8293-A4B5C6D7E8F9",
      production: "t",
    },
    optional: ["pushService", "voipToken", "type", "clientId", "production"],
  },
  "user/sendName": { body: { name: "Иван", patronymic: "Петрович" }, optional: ["patronymic"] },
  "user/notification": { body: { money: "t", enable: "f" }, optional: ["money", "enable"] },
  "address/openDoor": { body: { domophoneId: 53, doorId: 0 }, optional: ["doorId"] },
  "cctv/all": { body: { houseId: "101" }, optional: ["houseId"] },
  "pay/prepare": { body: { clientId: "89545", amount: "50000" } },
  "pay/register": { body: { orderNumber: "424242", amount: 50000 } },
  "pay/process": { body: { paymentId: "424242", sbId: "sb-1" }, optional: ["sbId"] },
};

/**
 * Values no field of the apps' API takes (JSON text, so 1e309 stays a number too big for a double). `null`
 * is not among them: cctv/all takes `houseId: null` (all houses); a `null` body is in NOT_AN_OBJECT.
 */
const BAD_VALUES = [
  "{}",
  "[]",
  '[null,"\\u0000"]',
  "true",
  "-1.5",
  "1e309",
  '"x\\u0000y"',
  '"\\u0000"',
  '"x\\u001by"',
  '"x\\u0007\\u007f"',
  JSON.stringify("A".repeat(5_000)), // over every field's maximum, under the 64 KiB body limit
];

/** Bodies that are not a JSON object, or are over the body limit. */
const NOT_AN_OBJECT = [
  '{"a": "b"',
  "{,}",
  "[]",
  "null",
  "7",
  '"\\u0000"',
  "\u0000\u0001",
  '{"a":1}{}',
  "a=%00&a=&b=%zz",
  "--x\r\nfoo\r\n",
  JSON.stringify({ pad: "x".repeat(70 * 1024) }),
];

/** What the apps send (Android: charset added), and types they never send for these routes. */
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=UTF-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zzz",
  "",
];

/** `body` as JSON text with member `name` replaced by the JSON text `value` (or left out, if undefined). */
function withMember(body: Record<string, unknown>, name: string, value: string | undefined): string {
  const members = Object.entries(body).filter(([k]) => k !== name).map(([k, v]) =>
    `${JSON.stringify(k)}:${JSON.stringify(v)}`
  );
  if (value !== undefined) members.push(`${JSON.stringify(name)}:${value}`);
  return `{${members.join(",")}}`;
}

/** The body as a form would encode it, which a route taking JSON must refuse. */
function formEncoded(body: Record<string, unknown>): string {
  return new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString();
}

/**
 * Malformed requests for each of `routes` (paths under the apps' prefix, e.g. "/api/user/ping"), sent with
 * `token`; `pick` chooses content types, so a seed reproduces a run.
 */
export function smartyardCases(
  routes: string[],
  options: { prefix: string; token: string; pick: <T>(xs: readonly T[]) => T },
): FuzzCase[] {
  const { prefix, token, pick } = options;
  const out: FuzzCase[] = [];
  const push = (path: string, body: string, type = pick(CONTENT_TYPES)) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (type) headers["content-type"] = type;
    out.push({ method: "POST", path, headers, body });
  };
  for (const path of routes) {
    for (const body of NOT_AN_OBJECT) push(path, body);
    const spec = APP_BODIES[path.slice(prefix.length)];
    if (!spec) continue; // a route that takes no fields: any JSON object is a well-formed call
    const { body, optional = [] } = spec;
    push(path, formEncoded(body), "application/x-www-form-urlencoded");
    for (const name of Object.keys(body)) {
      const required = !optional.includes(name);
      for (const value of [...BAD_VALUES, ...(required ? ['""'] : [])]) {
        push(path, withMember(body, name, value));
      }
      // repeated: JSON.parse keeps the last value
      push(
        path,
        withMember(body, name, `${JSON.stringify(body[name])},${JSON.stringify(name)}:${pick(BAD_VALUES)}`),
      );
      if (required) push(path, withMember(body, name, undefined));
    }
    if (optional.length < Object.keys(body).length) {
      push(path, "");
      push(path, "{}");
    }
  }
  return out;
}
