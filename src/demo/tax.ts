// Demo tax portal: captcha image at login, a new captcha on every failure, 4-minute portal sessions.
//
// Page contract (paths relative to the demo mount, e.g. /demo):
//   GET /tax/login            img#captcha src=…/tax/captcha.svg?id=<captcha id>; form#login (POST):
//                             input[name=username], input[name=password], input[name=captcha], button[type=submit].
//                             Every render (GET or failed POST) draws a new captcha for the cookie session,
//                             records {answer} in debug `captchas` and restarts the 4-minute session clock.
//                             Already logged in (and not expired) → 303 /tax/dashboard.
//   POST /tax/login           checks, in order: session → p.error "Session expired" (no/unknown cookie, or the
//                             login page is older than 4 min); captcha (case-insensitive, surrounding spaces
//                             ignored) → p.error "Invalid captcha"; credentials → p.error
//                             "Invalid username or password". Each failure re-renders login with a NEW captcha
//                             and empty fields (200). Success → 303 /tax/dashboard.
//   GET /tax/captcha.svg?id=  image/svg+xml of the session's current captcha; 404 for any other id.
//   GET /tax/dashboard        p#welcome, p#api-status ("API access: disabled|enabled"),
//                             form#enable-api-form (POST → /tax/api-access) with button#enable-api.
//   POST /tax/api-access      enables API access for the user (idempotent) → 303 GET /tax/api-access.
//   GET /tax/api-access       div#confirmation "API access enabled for demo", span#reference "GST-<10 digits>";
//                             → 303 /tax/dashboard when not enabled yet.
// A session expires 4 minutes after the last login page render; then dashboard/api-access redirect (303)
// to /tax/login?error=expired, which shows p.error "Session expired".
// Session: cookie `tax_session` (HttpOnly, SameSite=Lax, Path=<base>/tax).

import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { CAPTCHA_LENGTH, CAPTCHA_SIZE, captchaSvg, randomCaptchaText } from "./captcha.ts";
import { errorParagraph, escapeHtml, page } from "./html.ts";
import { type DemoContext, formField, pushCapped, randomDigits, randomHex, readForm } from "./shared.ts";

/** How long a tax portal session lives after its login page was rendered. */
export const TAX_SESSION_TTL_MS = 4 * 60_000;

const SESSION_COOKIE = "tax_session";

interface TaxSession {
  startedAt: number;
  captchaId: string;
  captchaAnswer: string;
  /** Set once the user has logged in. */
  user?: string;
}

interface ApiAccess {
  reference: string;
  enabledAt: number;
}

function loginPage(base: string, captchaId: string, error?: string): string {
  return page(
    "Tax portal – Log in",
    `<h1>Tax portal</h1>
<h2>Log in</h2>
${errorParagraph(error)}
<form id="login" method="post" action="${escapeHtml(base)}/login">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<p><img id="captcha" src="${escapeHtml(base)}/captcha.svg?id=${
      escapeHtml(captchaId)
    }" alt="Captcha: type the characters you see" width="${CAPTCHA_SIZE.width}" height="${CAPTCHA_SIZE.height}"></p>
<label>Characters shown above <input type="text" name="captcha" autocomplete="off" maxlength="${CAPTCHA_LENGTH}" required></label>
<button type="submit">Log in</button>
</form>`,
  );
}

/** The tax portal as a Hono app, mounted by `demoPortal` at `/tax`. */
export function taxPortal(ctx: DemoContext): Hono {
  const base = `${ctx.basePath}/tax`;
  const sessions = new Map<string, TaxSession>();
  const apiAccess = new Map<string, ApiAccess>();

  const expired = (session: TaxSession) => ctx.now() - session.startedAt >= TAX_SESSION_TTL_MS;
  const current = (c: Context): [string, TaxSession] | undefined => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? sessions.get(id) : undefined;
    return id && session ? [id, session] : undefined;
  };

  /** Renders the login page with a fresh captcha, (re)starting the cookie session's 4-minute clock. */
  const renderLogin = (c: Context, error?: string) => {
    for (const [id, s] of sessions) if (expired(s)) sessions.delete(id); // keep the map small
    const id = current(c)?.[0] ?? randomHex(16);
    const answer = randomCaptchaText();
    const captchaId = randomHex(8);
    sessions.set(id, { startedAt: ctx.now(), captchaId, captchaAnswer: answer });
    pushCapped(ctx.captchas, { answer });
    setCookie(c, SESSION_COOKIE, id, { path: base, httpOnly: true, sameSite: "Lax" });
    c.header("cache-control", "no-store");
    return c.html(loginPage(base, captchaId, error));
  };

  /** The logged-in session, or the redirect to answer with instead. */
  const requireLogin = (c: Context): TaxSession & { user: string } | Response => {
    const found = current(c);
    if (!found || !found[1].user) return c.redirect(`${base}/login`, 303);
    const [id, session] = found;
    if (expired(session)) {
      sessions.delete(id);
      deleteCookie(c, SESSION_COOKIE, { path: base });
      return c.redirect(`${base}/login?error=expired`, 303);
    }
    return session as TaxSession & { user: string };
  };

  const app = new Hono();

  app.get("/", (c) => c.redirect(`${base}/login`, 303));

  app.get("/login", (c) => {
    const found = current(c);
    if (found?.[1].user && !expired(found[1])) return c.redirect(`${base}/dashboard`, 303);
    return renderLogin(c, c.req.query("error") === "expired" ? "Session expired" : undefined);
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    const session = current(c)?.[1];
    if (!session || expired(session)) return renderLogin(c, "Session expired");
    const answer = session.captchaAnswer;
    session.captchaAnswer = ""; // one attempt per captcha
    if (!answer || formField(form, "captcha").trim().toUpperCase() !== answer) {
      return renderLogin(c, "Invalid captcha");
    }
    if (formField(form, "username") !== ctx.username || formField(form, "password") !== ctx.password) {
      return renderLogin(c, "Invalid username or password");
    }
    session.user = ctx.username;
    return c.redirect(`${base}/dashboard`, 303);
  });

  app.get("/captcha.svg", (c) => {
    const session = current(c)?.[1];
    if (!session || !session.captchaAnswer || session.captchaId !== c.req.query("id")) {
      return c.text("No such captcha", 404);
    }
    return c.body(captchaSvg(session.captchaAnswer), 200, {
      "content-type": "image/svg+xml",
      "cache-control": "no-store",
    });
  });

  app.get("/dashboard", (c) => {
    const session = requireLogin(c);
    if (session instanceof Response) return session;
    const enabled = apiAccess.has(session.user);
    const expiresAt = new Date(session.startedAt + TAX_SESSION_TTL_MS).toISOString();
    return c.html(page(
      "Tax portal – Dashboard",
      `<h1>Tax portal</h1>
<p id="welcome">Logged in as ${escapeHtml(session.user)}</p>
<p id="session-expiry" data-expires-at="${expiresAt}">Your session ends at ${expiresAt}</p>
<p id="api-status">API access: ${enabled ? "enabled" : "disabled"}</p>
<form id="enable-api-form" method="post" action="${escapeHtml(base)}/api-access">
<button id="enable-api" type="submit">Enable API access</button>
</form>`,
    ));
  });

  app.post("/api-access", (c) => {
    const session = requireLogin(c);
    if (session instanceof Response) return session;
    if (!apiAccess.has(session.user)) {
      apiAccess.set(session.user, { reference: `GST-${randomDigits(10)}`, enabledAt: ctx.now() });
    }
    return c.redirect(`${base}/api-access`, 303);
  });

  app.get("/api-access", (c) => {
    const session = requireLogin(c);
    if (session instanceof Response) return session;
    const access = apiAccess.get(session.user);
    if (!access) return c.redirect(`${base}/dashboard`, 303);
    return c.html(page(
      "Tax portal – API access",
      `<h1>Tax portal</h1>
<div id="confirmation">API access enabled for ${escapeHtml(session.user)}</div>
<p>Reference: <span id="reference">${escapeHtml(access.reference)}</span></p>
<p><a id="back" href="${escapeHtml(base)}/dashboard">Back to dashboard</a></p>`,
    ));
  });

  return app;
}
