// Demo driving-test booking site: BankID QR login (the QR changes every second), slot search, booking.
//
// Page contract (paths relative to the demo mount, e.g. /demo):
//   GET /booking/ (and /booking)  a#start href=…/booking/login "Boka prov".
//   GET /booking/login        starts a BankID transaction (debug `qr` gets {token, approved}); div#qr holds an
//                             SVG QR code, p#qr-status a hint. The inline script fetches …/booking/qr/<token>
//                             every 1000 ms and swaps div#qr's content; when approved it navigates to
//                             …/booking/complete/<token>; when timed out it empties div#qr and appends
//                             p.error#qr-error "BankID timed out".
//   GET /booking/qr/:token    JSON {svg, approved, expired}: 200 while pending or approved, 410 once timed out
//                             (120 s after start without approval), 404 unknown. QR text =
//                             bankid.<token>.<floor(now/1000)>.<hmac>, so it changes every second.
//   GET /booking/complete/:token  approved → portal session cookie, 303 /booking/search (one use);
//                             timed out → p.error "BankID timed out" (408); otherwise 303 /booking/login.
//   GET /booking/search       form#search (GET → /booking/results): select[name=license_type] (B),
//                             select[name=exam_type] (driving "Körprov", theory "Kunskapsprov"),
//                             input[type=checkbox][name=location] (Stockholm, Uppsala, Göteborg),
//                             button[type=submit]#search-submit.
//   GET /booking/results      ul#slots of li.slot[data-slot-id][data-location][data-exam-type]
//                             [data-date=YYYY-MM-DD][data-time=HH:MM], each with a form (POST → /booking/book,
//                             hidden input[name=slot_id]) and button.book; sorted by date, time, location.
//                             No slots → empty ul#slots plus p#no-slots. Bad input → search page with p.error
//                             "Unknown license type X" / "Unknown exam type X" / "Unknown location X" /
//                             "Choose at least one location" (400).
//   POST /booking/book        → 303 /booking/bookings/<TV…>; a booked or vanished slot → p.error
//                             "This slot is no longer available" (409).
//   GET /booking/bookings/:id div#booking[data-booking-id=TV<9 digits>][data-location][data-exam-type][data-date]
//                             [data-time]. Booked slots disappear from later searches.
// Slots are deterministic per location and exam type, dated relative to now() (UTC days).
// Pages behind login redirect (303) to /booking/login. Session: cookie `booking_session`
// (HttpOnly, SameSite=Lax, Path=<base>/booking).

import { createHmac } from "node:crypto";
import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import QRCode from "qrcode";
import { errorParagraph, escapeHtml, page } from "./html.ts";
import {
  type BankIdTransaction,
  DEBUG_LIST_LIMIT,
  type DemoContext,
  randomDigits,
  randomHex,
  readForm,
} from "./shared.ts";

/** How long a BankID transaction waits for approval. */
export const BANKID_TIMEOUT_MS = 120_000;

/** The test locations, with the day offsets and slug their slots use. */
export const LOCATIONS: Readonly<Record<string, { slug: string; days: readonly number[] }>> = {
  Stockholm: { slug: "sto", days: [2, 4, 9] },
  Uppsala: { slug: "upp", days: [3, 6] },
  "Göteborg": { slug: "got", days: [1, 5, 8] },
};

/** Exam types and the start times of their slots. */
export const EXAM_TYPES: Readonly<Record<string, { label: string; times: readonly string[] }>> = {
  driving: { label: "Körprov", times: ["08:30", "10:15", "13:40"] },
  theory: { label: "Kunskapsprov", times: ["09:00", "14:00"] },
};

/** License types the site books for. */
export const LICENSE_TYPES: readonly string[] = ["B"];

const SESSION_COOKIE = "booking_session";
const DAY_MS = 86_400_000;

/** One bookable exam slot. */
export interface Slot {
  id: string;
  location: string;
  examType: string;
  date: string;
  time: string;
}

interface Booking extends Slot {
  bookingId: string;
  sessionId: string;
}

/** All slots of one location and exam type as of `now` (ms), booked or not; the same inputs give the same slots. */
export function slotsFor(location: string, examType: string, now: number): Slot[] {
  if (!Object.hasOwn(LOCATIONS, location) || !Object.hasOwn(EXAM_TYPES, examType)) return [];
  const place = LOCATIONS[location];
  const exam = EXAM_TYPES[examType];
  const locationIndex = Object.keys(LOCATIONS).indexOf(location);
  return place.days.map((days, i) => {
    const date = new Date(now + (days + (examType === "theory" ? 1 : 0)) * DAY_MS).toISOString().slice(0, 10);
    const time = exam.times[(i + locationIndex) % exam.times.length];
    return {
      id: `${place.slug}-${examType}-${date.replaceAll("-", "")}-${time.replace(":", "")}`,
      location,
      examType,
      date,
      time,
    };
  });
}

/** True when a BankID transaction can no longer be approved. */
export function bankIdTimedOut(tx: BankIdTransaction, now: number): boolean {
  return !tx.approved && now - tx.startedAt >= BANKID_TIMEOUT_MS;
}

/** Approves every pending BankID transaction (the debug "scan with the phone" button); returns how many. */
export function approvePendingBankId(ctx: DemoContext): number {
  let approved = 0;
  for (const tx of ctx.bankId.values()) {
    if (tx.approved || tx.completed || bankIdTimedOut(tx, ctx.now())) continue;
    tx.approved = true;
    approved += 1;
  }
  return approved;
}

function qrText(tx: BankIdTransaction, now: number): string {
  const second = Math.floor(now / 1000);
  const code = createHmac("sha256", tx.secret).update(String(second)).digest("hex");
  return `bankid.${tx.token}.${second}.${code}`;
}

async function qrSvg(tx: BankIdTransaction, now: number): Promise<string> {
  const svg: string = await QRCode.toString(qrText(tx, now), { type: "svg", margin: 4, width: 256 });
  return svg;
}

/** A JSON string literal that is safe inside an inline <script>. */
function scriptString(value: string): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

function loginPage(base: string, token: string, svg: string): string {
  return page(
    "Boka prov – BankID",
    `<h1>Log in with BankID</h1>
<p id="qr-status">Open the BankID app and scan the QR code.</p>
<div id="qr">${svg}</div>
<script>
(() => {
  const qr = document.getElementById("qr");
  const pollUrl = ${scriptString(`${base}/qr/${token}`)};
  const completeUrl = ${scriptString(`${base}/complete/${token}`)};
  const timer = setInterval(async () => {
    try {
      const res = await fetch(pollUrl, { cache: "no-store" });
      const data = await res.json();
      if (data.approved) {
        clearInterval(timer);
        location.href = completeUrl;
      } else if (data.expired || res.status === 404) {
        clearInterval(timer);
        qr.innerHTML = "";
        const error = document.createElement("p");
        error.className = "error";
        error.id = "qr-error";
        error.textContent = "BankID timed out";
        qr.after(error);
      } else if (data.svg) {
        qr.innerHTML = data.svg;
      }
    } catch (_) {
      // A failed poll is retried on the next tick.
    }
  }, 1000);
})();
</script>
<p><a id="restart" href="${escapeHtml(base)}/login">Start again</a></p>`,
  );
}

function searchPage(base: string, error?: string): string {
  const exams = Object.entries(EXAM_TYPES)
    .map(([value, e]) => `<option value="${value}">${escapeHtml(e.label)}</option>`).join("");
  const places = Object.keys(LOCATIONS)
    .map((l) =>
      `<label><input type="checkbox" name="location" value="${escapeHtml(l)}"> ${escapeHtml(l)}</label>`
    )
    .join("\n");
  return page(
    "Boka prov – Search",
    `<h1>Find a test slot</h1>
${errorParagraph(error)}
<form id="search" method="get" action="${escapeHtml(base)}/results">
<label>License type <select name="license_type">${
      LICENSE_TYPES.map((t) => `<option value="${t}">${t}</option>`).join("")
    }</select></label>
<label>Exam type <select name="exam_type">${exams}</select></label>
<fieldset><legend>Locations</legend>
${places}
</fieldset>
<button type="submit" id="search-submit">Search</button>
</form>`,
  );
}

function resultsPage(base: string, slots: Slot[], summary: string): string {
  const items = slots.map((s) =>
    `<li class="slot" data-slot-id="${escapeHtml(s.id)}" data-location="${
      escapeHtml(s.location)
    }" data-exam-type="${s.examType}" data-date="${s.date}" data-time="${s.time}">
${escapeHtml(s.location)} ${s.date} ${s.time}
<form method="post" action="${escapeHtml(base)}/book"><input type="hidden" name="slot_id" value="${
      escapeHtml(s.id)
    }"><button class="book" type="submit">Book</button></form>
</li>`
  ).join("\n");
  return page(
    "Boka prov – Available slots",
    `<h1>Available slots</h1>
<p id="summary">${escapeHtml(summary)}</p>
<ul id="slots">
${items}
</ul>
${slots.length === 0 ? `<p id="no-slots">No available slots</p>` : ""}
<p><a id="new-search" href="${escapeHtml(base)}/search">New search</a></p>`,
  );
}

/** The booking site's start page: a#start "Boka prov" linking to the BankID login. */
export function bookingLandingPage(basePath: string): string {
  return page(
    "Boka prov",
    `<h1>Driving tests</h1>
<p>Book a driving or theory test.</p>
<p><a id="start" href="${escapeHtml(basePath)}/booking/login">Boka prov</a></p>`,
  );
}

/** The driving-test booking site as a Hono app, mounted by `demoPortal` at `/booking`. */
export function bookingPortal(ctx: DemoContext): Hono {
  const base = `${ctx.basePath}/booking`;
  const sessions = new Set<string>();
  const bookings = new Map<string, Booking>();
  const bookedSlots = new Set<string>();

  const sessionId = (c: Context): string | undefined => {
    const id = getCookie(c, SESSION_COOKIE);
    return id && sessions.has(id) ? id : undefined;
  };

  const app = new Hono();

  // Only "/booking" is reachable from here (a sub-app's "/" merges to its mount path); mod.ts serves
  // the same page at "/booking/".
  app.get("/", (c) => c.html(bookingLandingPage(ctx.basePath)));

  app.get("/login", async (c) => {
    const token = randomHex(16);
    const tx: BankIdTransaction = {
      token,
      secret: randomHex(16),
      startedAt: ctx.now(),
      approved: false,
      completed: false,
    };
    ctx.bankId.set(token, tx);
    for (const old of ctx.bankId.keys()) { // Maps iterate oldest first
      if (ctx.bankId.size <= DEBUG_LIST_LIMIT) break;
      ctx.bankId.delete(old);
    }
    c.header("cache-control", "no-store");
    return c.html(loginPage(base, token, await qrSvg(tx, ctx.now())));
  });

  app.get("/qr/:token", async (c) => {
    c.header("cache-control", "no-store");
    const tx = ctx.bankId.get(c.req.param("token"));
    if (!tx) return c.json({ error: "Unknown BankID transaction" }, 404);
    if (bankIdTimedOut(tx, ctx.now())) return c.json({ svg: "", approved: false, expired: true }, 410);
    return c.json({ svg: await qrSvg(tx, ctx.now()), approved: tx.approved, expired: false });
  });

  app.get("/complete/:token", (c) => {
    const tx = ctx.bankId.get(c.req.param("token"));
    if (tx && bankIdTimedOut(tx, ctx.now())) {
      return c.html(
        page(
          "Boka prov – BankID",
          `<h1>Log in with BankID</h1>
${errorParagraph("BankID timed out", "qr-error")}
<p><a id="restart" href="${escapeHtml(base)}/login">Start again</a></p>`,
        ),
        408,
      );
    }
    if (!tx || !tx.approved || tx.completed) return c.redirect(`${base}/login`, 303);
    tx.completed = true;
    const id = randomHex(16);
    sessions.add(id);
    setCookie(c, SESSION_COOKIE, id, { path: base, httpOnly: true, sameSite: "Lax" });
    return c.redirect(`${base}/search`, 303);
  });

  app.get("/search", (c) => {
    if (!sessionId(c)) return c.redirect(`${base}/login`, 303);
    return c.html(searchPage(base));
  });

  app.get("/results", (c) => {
    if (!sessionId(c)) return c.redirect(`${base}/login`, 303);
    const licenseType = c.req.query("license_type") ?? "";
    const examType = c.req.query("exam_type") ?? "";
    const locations = c.req.queries("location") ?? [];
    const problem = !LICENSE_TYPES.includes(licenseType)
      ? `Unknown license type ${licenseType}`
      : !Object.hasOwn(EXAM_TYPES, examType)
      ? `Unknown exam type ${examType}`
      : locations.length === 0
      ? "Choose at least one location"
      : locations.filter((l) => !Object.hasOwn(LOCATIONS, l)).map((l) => `Unknown location ${l}`)[0];
    if (problem) return c.html(searchPage(base, problem), 400);
    const slots = locations
      .flatMap((l) => slotsFor(l, examType, ctx.now()))
      .filter((s) => !bookedSlots.has(s.id))
      .sort((a, b) =>
        a.date.localeCompare(b.date) || a.time.localeCompare(b.time) || a.location.localeCompare(b.location)
      );
    const summary = `${slots.length} available ${examType} slots for license ${licenseType} in ${
      locations.join(", ")
    }`;
    return c.html(resultsPage(base, slots, summary));
  });

  app.post("/book", async (c) => {
    const session = sessionId(c);
    if (!session) return c.redirect(`${base}/login`, 303);
    const form = await readForm(c);
    const slotId = typeof form.slot_id === "string" ? form.slot_id : "";
    const slot = Object.keys(LOCATIONS)
      .flatMap((l) => Object.keys(EXAM_TYPES).flatMap((e) => slotsFor(l, e, ctx.now())))
      .find((s) => s.id === slotId);
    if (!slot || bookedSlots.has(slot.id)) {
      return c.html(
        page(
          "Boka prov – Not available",
          `<h1>Booking failed</h1>
${errorParagraph("This slot is no longer available")}
<p><a id="new-search" href="${escapeHtml(base)}/search">New search</a></p>`,
        ),
        409,
      );
    }
    const bookingId = `TV${randomDigits(9)}`;
    bookedSlots.add(slot.id);
    bookings.set(bookingId, { ...slot, bookingId, sessionId: session });
    return c.redirect(`${base}/bookings/${bookingId}`, 303);
  });

  app.get("/bookings/:id", (c) => {
    const session = sessionId(c);
    if (!session) return c.redirect(`${base}/login`, 303);
    const booking = bookings.get(c.req.param("id"));
    if (!booking || booking.sessionId !== session) return c.text("No such booking", 404);
    return c.html(page(
      "Boka prov – Booked",
      `<h1>Your test is booked</h1>
<div id="booking" data-booking-id="${booking.bookingId}" data-location="${
        escapeHtml(booking.location)
      }" data-exam-type="${booking.examType}" data-date="${booking.date}" data-time="${booking.time}">
Booking ${booking.bookingId}: ${escapeHtml(EXAM_TYPES[booking.examType].label)} in ${
        escapeHtml(booking.location)
      } on ${booking.date} at ${booking.time}.
</div>
<p><a id="new-search" href="${escapeHtml(base)}/search">Book another test</a></p>`,
    ));
  });

  return app;
}
