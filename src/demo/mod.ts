// The demo portal: three imitations of real web portals that gatehouse's browser flows are scripted
// against, plus a debug API that plays the human (reads SMS codes and captchas, approves BankID).
//
//   GET  /                      index linking the portals (a#registry, a#tax, a#booking)
//   /registry/…                 vehicle registry: login → SMS 2FA → plate search (see registry.ts)
//   /tax/…                      tax portal: captcha login, 4-minute sessions (see tax.ts)
//   /booking/…                  driving-test booking: BankID QR login, slots, booking (see booking.ts)
//   GET  /_debug                {"sms":[{to,code}],"captchas":[{answer}],"qr":[{token,approved}]}, newest last
//   POST /_debug/qr/approve     approves every pending BankID transaction → {"approved": n}
//
// All paths are relative to where the app is mounted; `basePath` must match that mount so that links,
// form actions, redirects and cookie paths are right. One instance owns all its state, in memory.

import { Hono } from "hono";
import { approvePendingBankId, bookingLandingPage, bookingPortal } from "./booking.ts";
import { escapeHtml, page } from "./html.ts";
import { registryPortal } from "./registry.ts";
import type { DemoContext } from "./shared.ts";
import { taxPortal } from "./tax.ts";

/** The login every demo portal accepts by default; main.ts hands it to flows as their FLOW_SECRETS default. */
export const DEMO_LOGIN: Readonly<Record<string, string>> = { username: "demo", password: "demo" };

/** Options of `demoPortal`. */
export interface DemoPortalOptions {
  /** Where the app is mounted, used to build links, redirects and cookie paths (default "/demo"). */
  basePath?: string;
  /** The username every portal accepts (default "demo"). */
  username?: string;
  /** The password every portal accepts (default "demo"). */
  password?: string;
  /** The clock in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The debug view of one demo instance: what a human would read off a phone or a screen. */
export interface DemoDebugSnapshot {
  sms: { to: string; code: string }[];
  captchas: { answer: string }[];
  qr: { token: string; approved: boolean }[];
}

function debugSnapshot(ctx: DemoContext): DemoDebugSnapshot {
  return {
    sms: ctx.sms.map(({ to, code }) => ({ to, code })),
    captchas: ctx.captchas.map(({ answer }) => ({ answer })),
    qr: [...ctx.bankId.values()].map(({ token, approved }) => ({ token, approved })),
  };
}

function indexPage(basePath: string): string {
  const base = escapeHtml(basePath);
  return page(
    "Gatehouse demo portals",
    `<h1>Gatehouse demo portals</h1>
<p>Three imitation portals for browser automation. Log in with the demo credentials; codes, captcha
answers and BankID approval are available from <a id="debug" href="${base}/_debug">the debug API</a>.</p>
<ul id="portals">
<li><a id="registry" href="${base}/registry/login">Vehicle registry</a>: login, SMS code, plate search, inspection photos</li>
<li><a id="tax" href="${base}/tax/login">Tax portal</a>: captcha login, enable API access</li>
<li><a id="booking" href="${base}/booking/">Driving-test booking</a>: BankID QR login, slot search, booking</li>
</ul>`,
  );
}

/** Builds a self-contained demo portal app (vehicle registry, tax portal, driving-test booking, debug API). */
export function demoPortal(options: DemoPortalOptions = {}): Hono {
  const ctx: DemoContext = {
    basePath: (options.basePath ?? "/demo").replace(/\/+$/, ""),
    username: options.username ?? "demo",
    password: options.password ?? "demo",
    now: options.now ?? Date.now,
    sms: [],
    captchas: [],
    bankId: new Map(),
  };
  const app = new Hono();
  app.get("/", (c) => c.html(indexPage(ctx.basePath)));
  app.route("/registry", registryPortal(ctx));
  app.route("/tax", taxPortal(ctx));
  app.route("/booking", bookingPortal(ctx));
  app.get("/booking/", (c) => c.html(bookingLandingPage(ctx.basePath)));
  app.get("/_debug", (c) => {
    c.header("cache-control", "no-store");
    return c.json(debugSnapshot(ctx));
  });
  app.post("/_debug/qr/approve", (c) => c.json({ approved: approvePendingBankId(ctx) }));
  return app;
}
