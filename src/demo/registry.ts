// Demo vehicle registry: login → SMS 2FA code → plate search → vehicle data and inspection photos.
//
// Page contract (paths relative to the demo mount, e.g. /demo):
//   GET/POST /registry/login   form#login: input[name=username], input[name=password], button[type=submit];
//                              wrong credentials → p.error "Invalid username or password" (200);
//                              right → code in debug `sms`, 303 to /registry/2fa.
//   GET/POST /registry/2fa     form#twofa: input[name=code]; p#twofa-message "We sent a code to +36 20 *** 4567";
//                              wrong → p.error "Invalid code"; right → 303 /registry/search.
//                              The code lives 5 minutes and allows 5 wrong tries; after either the session
//                              ends and /registry/login shows p.error "Code expired, please log in again" /
//                              "Too many wrong codes, please log in again".
//   GET /registry/search       form#search (GET → /registry/vehicle): input[name=plate], button[type=submit].
//   GET /registry/vehicle?plate=…  plates normalise ("abc 123" = ABC123). Unknown → 404 with
//                              p.error#not-found "No vehicle found with plate ZZZ999".
//                              Known → table#registration, #specs, #odometer, #accidents, #restrictions; every
//                              data row is <tr data-key="…"><th>Label</th><td>value</td></tr> (header rows
//                              have no data-key). Odometer: data-key = date YYYY-MM-DD, td = whole km (digits).
//                              Accidents: data-key = date, td = description. Restrictions: data-key = machine
//                              name (e.g. "lien"), td = description. An empty accidents/restrictions table has
//                              exactly one row <tr data-key="none"><th>None</th><td>No records</td></tr>.
//                              Photos: img.inspection-photo src=…/registry/photos/ABC123/1.png (2–3 of them).
//   GET /registry/photos/:plate/:n.png  image/png; 401 without a logged-in session, 404 if unknown.
// Pages other than login redirect (303) to /registry/login without a session that passed 2FA.
// Session: cookie `registry_session` (HttpOnly, SameSite=Lax, Path=<base>/registry).

import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { errorParagraph, escapeHtml, page } from "./html.ts";
import { inspectionPhoto } from "./png.ts";
import { type DemoContext, formField, pushCapped, randomDigits, randomHex, readForm } from "./shared.ts";
import { normalisePlate, type Vehicle, type VehicleRow, VEHICLES } from "./vehicles.ts";

/** The phone number the registry "sends" 2FA codes to (E.164). */
export const REGISTRY_SMS_NUMBER = "+36201234567";

const SESSION_COOKIE = "registry_session";
const CODE_TTL_MS = 5 * 60_000;
const MAX_CODE_TRIES = 5;

const LOGIN_ERRORS: Record<string, string> = {
  expired: "Code expired, please log in again",
  attempts: "Too many wrong codes, please log in again",
};

interface RegistrySession {
  verified: boolean;
  code: string;
  sentAt: number;
  wrongTries: number;
}

function loginPage(error?: string): string {
  return page(
    "Vehicle registry – Log in",
    `<h1>Vehicle registry</h1>
<h2>Log in</h2>
${errorParagraph(error)}
<form id="login" method="post">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>`,
  );
}

function twoFactorPage(error?: string): string {
  return page(
    "Vehicle registry – Verification code",
    `<h1>Vehicle registry</h1>
<h2>Two-step verification</h2>
<p id="twofa-message">We sent a code to +36 20 *** 4567</p>
${errorParagraph(error)}
<form id="twofa" method="post">
<label>Code <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required></label>
<button type="submit">Verify</button>
</form>`,
  );
}

function searchForm(base: string): string {
  return `<form id="search" method="get" action="${escapeHtml(base)}/vehicle">
<label>Plate <input type="text" name="plate" required></label>
<button type="submit">Search</button>
</form>`;
}

function table(id: string, caption: string, rows: VehicleRow[], headers?: [string, string]): string {
  const head = headers
    ? `<tr><th>${escapeHtml(headers[0])}</th><th>${escapeHtml(headers[1])}</th></tr>\n`
    : "";
  const body = rows.length === 0
    ? `<tr data-key="none"><th>None</th><td>No records</td></tr>`
    : rows.map((r) =>
      `<tr data-key="${escapeHtml(r.key)}"><th>${escapeHtml(r.label)}</th><td>${
        escapeHtml(r.value)
      }</td></tr>`
    ).join("\n");
  return `<h3>${escapeHtml(caption)}</h3>\n<table id="${id}">\n${head}${body}\n</table>`;
}

function vehiclePage(base: string, plate: string, vehicle: Vehicle): string {
  const photos = Array.from(
    { length: vehicle.photoCount },
    (_, i) =>
      `<img class="inspection-photo" src="${escapeHtml(base)}/photos/${escapeHtml(plate)}/${
        i + 1
      }.png" alt="Inspection photo ${i + 1}" width="320" height="240">`,
  ).join("\n");
  return page(
    `Vehicle registry – ${plate}`,
    `<h1>Vehicle ${escapeHtml(plate)}</h1>
${table("registration", "Registration", vehicle.registration)}
${table("specs", "Technical data", vehicle.specs)}
${table("odometer", "Odometer", vehicle.odometer, ["Date", "km"])}
${table("accidents", "Accidents", vehicle.accidents, ["Date", "Description"])}
${table("restrictions", "Restrictions", vehicle.restrictions)}
<h3>Inspection photos</h3>
<div id="photos">
${photos}
</div>
<p><a id="new-search" href="${escapeHtml(base)}/search">New search</a></p>`,
  );
}

/** The vehicle registry portal as a Hono app, mounted by `demoPortal` at `/registry`. */
export function registryPortal(ctx: DemoContext): Hono {
  const base = `${ctx.basePath}/registry`;
  const sessions = new Map<string, RegistrySession>();
  const photoCache = new Map<string, Uint8Array>();

  const current = (c: Context): [string, RegistrySession] | undefined => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? sessions.get(id) : undefined;
    return id && session ? [id, session] : undefined;
  };
  const endSession = (c: Context, id: string) => {
    sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: base });
  };

  const app = new Hono();

  app.get("/", (c) => c.redirect(`${base}/login`, 303));

  app.get("/login", (c) => {
    const error = c.req.query("error") ?? "";
    return c.html(loginPage(Object.hasOwn(LOGIN_ERRORS, error) ? LOGIN_ERRORS[error] : undefined));
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    if (formField(form, "username") !== ctx.username || formField(form, "password") !== ctx.password) {
      return c.html(loginPage("Invalid username or password"));
    }
    const previous = current(c);
    if (previous) sessions.delete(previous[0]);
    const id = randomHex(16);
    const code = randomDigits(6);
    sessions.set(id, { verified: false, code, sentAt: ctx.now(), wrongTries: 0 });
    pushCapped(ctx.sms, { to: REGISTRY_SMS_NUMBER, code });
    setCookie(c, SESSION_COOKIE, id, { path: base, httpOnly: true, sameSite: "Lax" });
    return c.redirect(`${base}/2fa`, 303);
  });

  app.get("/2fa", (c) => {
    const found = current(c);
    if (!found) return c.redirect(`${base}/login`, 303);
    if (found[1].verified) return c.redirect(`${base}/search`, 303);
    return c.html(twoFactorPage());
  });

  app.post("/2fa", async (c) => {
    const found = current(c);
    if (!found) return c.redirect(`${base}/login`, 303);
    const [id, session] = found;
    if (session.verified) return c.redirect(`${base}/search`, 303);
    if (ctx.now() - session.sentAt > CODE_TTL_MS) {
      endSession(c, id);
      return c.redirect(`${base}/login?error=expired`, 303);
    }
    const form = await readForm(c);
    if (formField(form, "code").trim() !== session.code) {
      session.wrongTries += 1;
      if (session.wrongTries >= MAX_CODE_TRIES) {
        endSession(c, id);
        return c.redirect(`${base}/login?error=attempts`, 303);
      }
      return c.html(twoFactorPage("Invalid code"));
    }
    session.verified = true;
    session.code = "";
    return c.redirect(`${base}/search`, 303);
  });

  app.get("/search", (c) => {
    if (!current(c)?.[1].verified) return c.redirect(`${base}/login`, 303);
    return c.html(page("Vehicle registry – Search", `<h1>Vehicle search</h1>\n${searchForm(base)}`));
  });

  app.get("/vehicle", (c) => {
    if (!current(c)?.[1].verified) return c.redirect(`${base}/login`, 303);
    const plate = normalisePlate(c.req.query("plate") ?? "");
    const vehicle = VEHICLES.get(plate);
    if (!vehicle) {
      return c.html(
        page(
          "Vehicle registry – Not found",
          `<h1>Vehicle search</h1>
${errorParagraph(`No vehicle found with plate ${plate}`, "not-found")}
${searchForm(base)}`,
        ),
        404,
      );
    }
    return c.html(vehiclePage(base, plate, vehicle));
  });

  app.get("/photos/:plate/:file", (c) => {
    if (!current(c)?.[1].verified) return c.text("Log in to see inspection photos", 401);
    const plate = c.req.param("plate");
    const match = /^([1-9][0-9]?)\.png$/.exec(c.req.param("file"));
    const vehicle = VEHICLES.get(plate);
    const index = match ? Number(match[1]) : 0;
    if (!vehicle || index < 1 || index > vehicle.photoCount) return c.text("No such photo", 404);
    const key = `${plate}/${index}`;
    let png = photoCache.get(key);
    if (!png) {
      png = inspectionPhoto(plate, index);
      photoCache.set(key, png);
    }
    return c.body(png.slice().buffer, 200, {
      "content-type": "image/png",
      "cache-control": "private, max-age=300",
    });
  });

  return app;
}
