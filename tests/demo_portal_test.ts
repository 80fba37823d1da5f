import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { Hono } from "hono";
import { CAPTCHA_ALPHABET, captchaSvg, randomCaptchaText } from "../src/demo/captcha.ts";
import { demoPortal, type DemoPortalOptions } from "../src/demo/mod.ts";
import { encodePng, inspectionPhoto, PNG_SIGNATURE } from "../src/demo/png.ts";

const T0 = Date.parse("2025-03-03T09:00:00.250Z");

interface Reply {
  status: number;
  headers: Headers;
  location: string | null;
  bytes: Uint8Array;
  text: string;
}

/** A tiny in-process browser: keeps the cookies the demo sets and sends them back (paths ignored). */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly app: Hono) {}

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await this.app.request(path, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    return {
      status: res.status,
      headers: res.headers,
      location: res.headers.get("location"),
      bytes,
      text: new TextDecoder().decode(bytes),
    };
  }

  get(path: string): Promise<Reply> {
    return this.request(path);
  }

  post(path: string, fields: Record<string, string> = {}): Promise<Reply> {
    return this.request(path, { method: "POST", body: new URLSearchParams(fields) });
  }
}

/** The demo mounted at /demo, as the main app does, with a settable clock. */
function setup(options: DemoPortalOptions = {}) {
  const clock = { now: T0 };
  const app = new Hono().route("/demo", demoPortal({ now: () => clock.now, ...options }));
  return { app, clock, browser: new Browser(app) };
}

interface Debug {
  sms: { to: string; code: string }[];
  captchas: { answer: string }[];
  qr: { token: string; approved: boolean }[];
}

async function debug(app: Hono): Promise<Debug> {
  const res = await app.request("/demo/_debug");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

/** The td of `<tr data-key=key>` inside `<table id=table>`. */
function cell(html: string, table: string, key: string): string | undefined {
  const body = new RegExp(`<table id="${table}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? "";
  return new RegExp(`<tr data-key="${key}"><th>[^<]*</th><td>([^<]*)</td></tr>`).exec(body)?.[1];
}

function dataKeys(html: string, table: string): string[] {
  const body = new RegExp(`<table id="${table}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? "";
  return [...body.matchAll(/data-key="([^"]*)"/g)].map((m) => m[1]);
}

async function registryLogin(browser: Browser, app: Hono): Promise<void> {
  const login = await browser.post("/demo/registry/login", { username: "demo", password: "demo" });
  assert.equal(login.status, 303);
  const { code } = (await debug(app)).sms.at(-1)!;
  const verified = await browser.post("/demo/registry/2fa", { code });
  assert.equal(verified.location, "/demo/registry/search");
}

Deno.test("GET /demo lists the three portals", async () => {
  const { browser } = setup();
  const res = await browser.get("/demo");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(res.text, /<a id="registry" href="\/demo\/registry\/login">/);
  assert.match(res.text, /<a id="tax" href="\/demo\/tax\/login">/);
  assert.match(res.text, /<a id="booking" href="\/demo\/booking\/">/);
});

Deno.test("registry: login, SMS code and plate search show ABC123 with data rows and PNG photos", async () => {
  const { app, browser } = setup();
  const page = await browser.get("/demo/registry/login");
  assert.equal(page.status, 200);
  assert.match(page.text, /<form id="login" method="post">/);
  assert.match(page.text, /<input type="text" name="username"/);
  assert.match(page.text, /<input type="password" name="password"/);
  assert.match(page.text, /<button type="submit">/);

  const wrong = await browser.post("/demo/registry/login", { username: "demo", password: "nope" });
  assert.equal(wrong.status, 200);
  assert.match(wrong.text, /<p class="error">Invalid username or password<\/p>/);
  assert.equal((await debug(app)).sms.length, 0);

  const right = await browser.post("/demo/registry/login", { username: "demo", password: "demo" });
  assert.equal(right.status, 303);
  assert.equal(right.location, "/demo/registry/2fa");
  assert.ok(browser.cookies.has("registry_session"));
  const sms = (await debug(app)).sms;
  assert.equal(sms.length, 1);
  assert.equal(sms[0].to, "+36201234567");
  assert.match(sms[0].code, /^\d{6}$/);

  assert.equal((await browser.get("/demo/registry/search")).location, "/demo/registry/login");
  const twofa = await browser.get("/demo/registry/2fa");
  assert.match(twofa.text, /<form id="twofa" method="post">/);
  assert.match(twofa.text, /<input type="text" name="code"/);
  assert.match(twofa.text, /<p id="twofa-message">We sent a code to \+36 20 \*\*\* 4567<\/p>/);
  const badCode = sms[0].code === "000000" ? "111111" : "000000";
  const invalid = await browser.post("/demo/registry/2fa", { code: badCode });
  assert.equal(invalid.status, 200);
  assert.match(invalid.text, /<p class="error">Invalid code<\/p>/);
  const verified = await browser.post("/demo/registry/2fa", { code: sms[0].code });
  assert.equal(verified.status, 303);
  assert.equal(verified.location, "/demo/registry/search");

  const search = await browser.get("/demo/registry/search");
  assert.equal(search.status, 200);
  assert.match(search.text, /<form id="search" method="get" action="\/demo\/registry\/vehicle">/);
  assert.match(search.text, /<input type="text" name="plate"/);

  const vehicle = await browser.get("/demo/registry/vehicle?plate=abc%20123");
  assert.equal(vehicle.status, 200);
  assert.equal(cell(vehicle.text, "registration", "plate"), "ABC123");
  assert.equal(cell(vehicle.text, "registration", "vin")?.length, 17);
  assert.deepEqual(dataKeys(vehicle.text, "registration"), ["plate", "vin", "first_registration", "status"]);
  assert.equal(cell(vehicle.text, "specs", "brand"), "BENTLEY");
  assert.deepEqual(dataKeys(vehicle.text, "specs"), [
    "brand",
    "model",
    "color",
    "fuel",
    "engine_cc",
    "power_kw",
    "seats",
  ]);
  assert.equal(cell(vehicle.text, "odometer", "2022-05-30"), "129870");
  assert.deepEqual(dataKeys(vehicle.text, "accidents"), ["2019-11-03"]);
  assert.deepEqual(dataKeys(vehicle.text, "restrictions"), ["alienation_ban"]);

  const photos = [...vehicle.text.matchAll(/<img class="inspection-photo" src="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(photos, [1, 2, 3].map((n) => `/demo/registry/photos/ABC123/${n}.png`));
  const photo = await browser.get(photos[0]);
  assert.equal(photo.status, 200);
  assert.equal(photo.headers.get("content-type"), "image/png");
  assert.deepEqual(photo.bytes.subarray(0, 8), PNG_SIGNATURE);
  assert.notDeepEqual(photo.bytes, (await browser.get(photos[1])).bytes);
});

Deno.test("registry: an unknown plate says so; XYZ789 has a restriction and no accidents", async () => {
  const { app, browser } = setup();
  await registryLogin(browser, app);
  const missing = await browser.get("/demo/registry/vehicle?plate=zzz999");
  assert.equal(missing.status, 404);
  assert.match(missing.text, /<p class="error" id="not-found">No vehicle found with plate ZZZ999<\/p>/);
  const other = await browser.get("/demo/registry/vehicle?plate=XYZ-789");
  assert.equal(other.status, 200);
  assert.deepEqual(dataKeys(other.text, "accidents"), ["none"]);
  assert.deepEqual(dataKeys(other.text, "restrictions"), ["lien"]);
  assert.equal([...other.text.matchAll(/class="inspection-photo"/g)].length, 2);
  assert.equal((await browser.get("/demo/registry/photos/XYZ789/3.png")).status, 404);
});

Deno.test("registry: pages and photos need a session that passed 2FA", async () => {
  const { browser } = setup();
  for (const path of ["/demo/registry/2fa", "/demo/registry/search", "/demo/registry/vehicle?plate=ABC123"]) {
    const res = await browser.get(path);
    assert.equal(res.status, 303, path);
    assert.equal(res.location, "/demo/registry/login", path);
  }
  assert.equal((await browser.get("/demo/registry/photos/ABC123/1.png")).status, 401);
});

Deno.test("registry: the SMS code expires after 5 minutes", async () => {
  const { app, browser, clock } = setup();
  await browser.post("/demo/registry/login", { username: "demo", password: "demo" });
  const { code } = (await debug(app)).sms[0];
  clock.now += 5 * 60_000 + 1;
  const late = await browser.post("/demo/registry/2fa", { code });
  assert.equal(late.status, 303);
  assert.equal(late.location, "/demo/registry/login?error=expired");
  assert.match(
    (await browser.get(late.location!)).text,
    /<p class="error">Code expired, please log in again<\/p>/,
  );
  assert.equal((await browser.get("/demo/registry/search")).location, "/demo/registry/login");
});

Deno.test("tax: a wrong captcha draws a new one; the right captcha and credentials enable API access", async () => {
  const { app, browser } = setup();
  const first = await browser.get("/demo/tax/login");
  assert.equal(first.status, 200);
  assert.match(first.text, /<form id="login" method="post"/);
  for (const name of ["username", "password", "captcha"]) {
    assert.match(first.text, new RegExp(`name="${name}"`));
  }
  const firstSrc = /<img id="captcha" src="([^"]+)"/.exec(first.text)?.[1] ?? "";
  assert.ok(firstSrc.startsWith("/demo/tax/captcha.svg?"));
  const image = await browser.get(firstSrc);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/svg+xml");
  assert.match(image.text, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const answer = (await debug(app)).captchas.at(-1)!.answer;
  assert.match(answer, /^[A-HJKMNP-Z2-9]{5}$/);

  const wrongCaptcha = await browser.post("/demo/tax/login", {
    username: "demo",
    password: "demo",
    captcha: answer === "AAAAA" ? "BBBBB" : "AAAAA",
  });
  assert.equal(wrongCaptcha.status, 200);
  assert.match(wrongCaptcha.text, /<p class="error">Invalid captcha<\/p>/);
  const secondSrc = /<img id="captcha" src="([^"]+)"/.exec(wrongCaptcha.text)?.[1];
  assert.ok(secondSrc);
  assert.notEqual(secondSrc, firstSrc);
  assert.equal((await browser.get(firstSrc)).status, 404, "the old captcha is gone");
  assert.equal((await debug(app)).captchas.length, 2);

  const second = (await debug(app)).captchas.at(-1)!.answer;
  const wrongPassword = await browser.post("/demo/tax/login", {
    username: "demo",
    password: "x",
    captcha: second,
  });
  assert.match(wrongPassword.text, /<p class="error">Invalid username or password<\/p>/);
  assert.equal((await debug(app)).captchas.length, 3);

  const third = (await debug(app)).captchas.at(-1)!.answer;
  const ok = await browser.post("/demo/tax/login", {
    username: "demo",
    password: "demo",
    captcha: ` ${third.toLowerCase()} `,
  });
  assert.equal(ok.status, 303);
  assert.equal(ok.location, "/demo/tax/dashboard");

  const dashboard = await browser.get("/demo/tax/dashboard");
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.text, /<p id="api-status">API access: disabled<\/p>/);
  assert.match(dashboard.text, /<form id="enable-api-form" method="post" action="\/demo\/tax\/api-access">/);
  assert.match(dashboard.text, /<button id="enable-api" type="submit">Enable API access<\/button>/);
  const enabled = await browser.post("/demo/tax/api-access");
  assert.equal(enabled.status, 303);
  assert.equal(enabled.location, "/demo/tax/api-access");
  const confirmation = await browser.get("/demo/tax/api-access");
  assert.equal(confirmation.status, 200);
  assert.match(confirmation.text, /<div id="confirmation">API access enabled for demo<\/div>/);
  assert.match(confirmation.text, /<span id="reference">GST-\d{10}<\/span>/);
  assert.match((await browser.get("/demo/tax/dashboard")).text, /API access: enabled/);
});

Deno.test("tax: a portal session expires 4 minutes after the login page was rendered", async () => {
  const { app, browser, clock } = setup();
  await browser.get("/demo/tax/login");
  const { answer } = (await debug(app)).captchas.at(-1)!;
  await browser.post("/demo/tax/login", { username: "demo", password: "demo", captcha: answer });
  clock.now = T0 + 4 * 60_000 - 1;
  assert.equal((await browser.get("/demo/tax/dashboard")).status, 200);
  clock.now = T0 + 4 * 60_000;
  const expired = await browser.get("/demo/tax/dashboard");
  assert.equal(expired.status, 303);
  assert.equal(expired.location, "/demo/tax/login?error=expired");
  const login = await browser.get(expired.location!);
  assert.match(login.text, /<p class="error">Session expired<\/p>/);
  assert.match(login.text, /<img id="captcha"/);
});

Deno.test("tax: a login page left open for 4 minutes cannot be submitted", async () => {
  const { app, browser, clock } = setup();
  await browser.get("/demo/tax/login");
  const { answer } = (await debug(app)).captchas.at(-1)!;
  clock.now += 4 * 60_000;
  const late = await browser.post("/demo/tax/login", { username: "demo", password: "demo", captcha: answer });
  assert.equal(late.status, 200);
  assert.match(late.text, /<p class="error">Session expired<\/p>/);
  assert.equal((await debug(app)).captchas.length, 2);
});

Deno.test("booking: the BankID QR changes every second; approval leads to search, slots and a booking", async () => {
  const { app, browser, clock } = setup();
  const landing = await browser.get("/demo/booking/");
  assert.equal(landing.status, 200);
  assert.match(landing.text, /<a id="start" href="\/demo\/booking\/login">Boka prov<\/a>/);

  const login = await browser.get("/demo/booking/login");
  assert.equal(login.status, 200);
  assert.match(login.text, /<div id="qr"><svg /);
  const { token, approved } = (await debug(app)).qr.at(-1)!;
  assert.equal(approved, false);
  assert.match(login.text, new RegExp(`"/demo/booking/qr/${token}"`));

  const qr = async () => {
    const res = await browser.get(`/demo/booking/qr/${token}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    return JSON.parse(res.text) as { svg: string; approved: boolean; expired: boolean };
  };
  const a = await qr();
  assert.match(a.svg, /^<svg /);
  assert.equal(a.approved, false);
  clock.now += 500;
  assert.equal((await qr()).svg, a.svg, "same second, same QR");
  clock.now += 1000;
  assert.notEqual((await qr()).svg, a.svg, "next second, new QR");

  assert.equal((await browser.get(`/demo/booking/complete/${token}`)).location, "/demo/booking/login");
  const approve = await app.request("/demo/_debug/qr/approve", { method: "POST" });
  assert.deepEqual(await approve.json(), { approved: 1 });
  assert.equal((await qr()).approved, true);
  assert.deepEqual((await debug(app)).qr.at(-1), { token, approved: true });

  const complete = await browser.get(`/demo/booking/complete/${token}`);
  assert.equal(complete.status, 303);
  assert.equal(complete.location, "/demo/booking/search");
  assert.ok(browser.cookies.has("booking_session"));

  const search = await browser.get("/demo/booking/search");
  assert.equal(search.status, 200);
  assert.match(search.text, /<form id="search" method="get" action="\/demo\/booking\/results">/);
  assert.match(search.text, /<select name="license_type"><option value="B">/);
  assert.match(search.text, /<option value="driving">[\s\S]*<option value="theory">/);
  for (const place of ["Stockholm", "Uppsala", "Göteborg"]) {
    assert.match(search.text, new RegExp(`<input type="checkbox" name="location" value="${place}">`));
  }

  const query = "license_type=B&exam_type=driving&location=Stockholm&location=G%C3%B6teborg";
  const results = await browser.get(`/demo/booking/results?${query}`);
  assert.equal(results.status, 200);
  const slots = [
    ...results.text.matchAll(
      /<li class="slot" data-slot-id="([^"]+)" data-location="([^"]+)" data-exam-type="driving" data-date="(\d{4}-\d{2}-\d{2})" data-time="(\d{2}:\d{2})">/g,
    ),
  ].map(([, id, location, date, time]) => ({ id, location, date, time }));
  assert.equal(slots.length, 6);
  assert.deepEqual(new Set(slots.map((s) => s.location)), new Set(["Stockholm", "Göteborg"]));
  assert.equal(slots[0].date, "2025-03-04", "the earliest slot is tomorrow in Göteborg");
  assert.equal([...results.text.matchAll(/<button class="book" type="submit">/g)].length, 6);

  const booked = await browser.post("/demo/booking/book", { slot_id: slots[0].id });
  assert.equal(booked.status, 303);
  assert.match(booked.location ?? "", /^\/demo\/booking\/bookings\/TV\d{9}$/);
  const confirmation = await browser.get(booked.location!);
  assert.equal(confirmation.status, 200);
  const bookingId = booked.location!.split("/").at(-1);
  assert.match(
    confirmation.text,
    new RegExp(
      `<div id="booking" data-booking-id="${bookingId}" data-location="${
        slots[0].location
      }" data-exam-type="driving" data-date="${slots[0].date}" data-time="${slots[0].time}">`,
    ),
  );

  const again = await browser.get(`/demo/booking/results?${query}`);
  assert.equal([...again.text.matchAll(/<li class="slot"/g)].length, 5);
  assert.ok(!again.text.includes(slots[0].id), "a booked slot is no longer offered");
  const twice = await browser.post("/demo/booking/book", { slot_id: slots[0].id });
  assert.equal(twice.status, 409);
  assert.match(twice.text, /<p class="error">This slot is no longer available<\/p>/);
  assert.equal((await browser.get(`/demo/booking/complete/${token}`)).location, "/demo/booking/login");
});

Deno.test("booking: unknown license or exam types and missing locations are errors", async () => {
  const { app, browser } = setup();
  await browser.get("/demo/booking/login");
  await app.request("/demo/_debug/qr/approve", { method: "POST" });
  await browser.get(`/demo/booking/complete/${(await debug(app)).qr[0].token}`);
  const cases: [string, string][] = [
    ["license_type=C&exam_type=driving&location=Uppsala", "Unknown license type C"],
    ["license_type=B&exam_type=flying&location=Uppsala", "Unknown exam type flying"],
    ["license_type=B&exam_type=theory", "Choose at least one location"],
    ["license_type=B&exam_type=theory&location=Malm%C3%B6", "Unknown location Malmö"],
  ];
  for (const [query, message] of cases) {
    const res = await browser.get(`/demo/booking/results?${query}`);
    assert.equal(res.status, 400, query);
    assert.match(res.text, new RegExp(`<p class="error">${message}</p>`), query);
    assert.match(res.text, /<form id="search"/);
  }
});

Deno.test("booking: pages need a BankID session, and BankID times out after 120 seconds", async () => {
  const { app, browser, clock } = setup();
  assert.equal((await browser.get("/demo/booking/search")).location, "/demo/booking/login");
  assert.equal((await browser.get("/demo/booking/results?license_type=B")).location, "/demo/booking/login");
  await browser.get("/demo/booking/login");
  const { token } = (await debug(app)).qr[0];
  clock.now += 120_000;
  const qr = await browser.get(`/demo/booking/qr/${token}`);
  assert.equal(qr.status, 410);
  assert.deepEqual(JSON.parse(qr.text), { svg: "", approved: false, expired: true });
  const approve = await app.request("/demo/_debug/qr/approve", { method: "POST" });
  assert.deepEqual(await approve.json(), { approved: 0 });
  const complete = await browser.get(`/demo/booking/complete/${token}`);
  assert.equal(complete.status, 408);
  assert.match(complete.text, /<p class="error" id="qr-error">BankID timed out<\/p>/);
  assert.equal((await browser.get("/demo/booking/qr/nope")).status, 404);
});

Deno.test("GET /_debug lists SMS codes, captchas and BankID transactions, newest last", async () => {
  const { app, browser } = setup();
  assert.deepEqual(await debug(app), { sms: [], captchas: [], qr: [] });
  await browser.post("/demo/registry/login", { username: "demo", password: "demo" });
  await browser.post("/demo/registry/login", { username: "demo", password: "demo" });
  await browser.get("/demo/tax/login");
  await browser.get("/demo/booking/login");
  await browser.get("/demo/booking/login");
  const state = await debug(app);
  assert.equal(state.sms.length, 2);
  assert.deepEqual(Object.keys(state.sms[0]), ["to", "code"]);
  assert.deepEqual(Object.keys(state.captchas[0]), ["answer"]);
  assert.equal(state.qr.length, 2);
  assert.deepEqual(Object.keys(state.qr[0]), ["token", "approved"]);
  await browser.get("/demo/booking/login");
  assert.equal((await debug(app)).qr.length, 3);
  assert.notEqual((await debug(app)).qr[2].token, state.qr[1].token);
});

Deno.test("basePath and credentials are options", async () => {
  const app = new Hono().route(
    "/portals",
    demoPortal({ basePath: "/portals/", username: "u", password: "p" }),
  );
  const browser = new Browser(app);
  const res = await browser.post("/portals/registry/login", { username: "u", password: "p" });
  assert.equal(res.location, "/portals/registry/2fa");
  assert.match((await browser.get("/portals")).text, /href="\/portals\/tax\/login"/);
});

Deno.test("inspection photos are valid, deterministic PNGs", () => {
  const png = inspectionPhoto("ABC123", 1);
  assert.deepEqual(png, inspectionPhoto("ABC123", 1));
  assert.notDeepEqual(png, inspectionPhoto("ABC123", 2));
  const view = new DataView(png.buffer, png.byteOffset);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assert.deepEqual([view.getUint32(16), view.getUint32(20)], [320, 240]);
  const idatLength = view.getUint32(33);
  assert.equal(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  assert.equal(inflateSync(png.subarray(41, 41 + idatLength)).length, 240 * (1 + 320 * 3));
  assert.equal(new TextDecoder().decode(png.subarray(-8, -4)), "IEND");
  assert.throws(() => encodePng(2, 2, new Uint8Array(3)), RangeError);
});

Deno.test("captchas use the unambiguous alphabet and never put the answer in the SVG", () => {
  for (let i = 0; i < 50; i++) {
    const text = randomCaptchaText();
    assert.equal(text.length, 5);
    for (const ch of text) assert.ok(CAPTCHA_ALPHABET.includes(ch));
    const svg = captchaSvg(text);
    assert.ok(!svg.includes(text));
    assert.ok(!svg.includes("<text"));
  }
  for (const ch of "ILO01") assert.ok(!CAPTCHA_ALPHABET.includes(ch));
  assert.equal(captchaSvg(CAPTCHA_ALPHABET).startsWith("<svg"), true, "every character has a glyph");
});
