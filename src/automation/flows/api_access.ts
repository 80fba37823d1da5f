/**
 * api-access: logs in to the tax portal behind a captcha (a human reads it) and enables API access.
 *
 * Portal contract (under `${portalUrl}/tax`): /login img#captcha, form#login [name=username]
 * [name=password] [name=captcha], every failure re-renders the login page with p.error and a new captcha
 * ("Invalid captcha", "Invalid username or password", "Session expired"); the dashboard has
 * button#enable-api; the confirmation page has #confirmation and #reference.
 *
 * Credentials come from the input, else from the server-side secrets; whatever is missing is asked with
 * every captcha (extra prompt fields), and each answer's credentials are the ones used (as the old tax
 * service's client sent username, password and captcha in every PUT); refused input or server-side
 * credentials end the flow at once (FlowError step "login"): the human at the prompt is not necessarily
 * the owner of the configured account, so the flow never asks them to type someone else's password.
 */
import { z } from "zod";
import { defineFlow, FlowError, type PromptField } from "../flow.ts";
import { clickAndNavigate, fill, firstOf, open, screenshotElement, textOf } from "./support.ts";

/** Captcha attempts before the flow gives up (each failure costs the human one new captcha). */
const MAX_ATTEMPTS = 5;

const input = z.object({
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
});

const CAPTCHA_FIELD: PromptField = { name: "captcha", label: "Characters shown in the image" };
const USERNAME_FIELD: PromptField = { name: "username", label: "Username" };
const PASSWORD_FIELD: PromptField = { name: "password", label: "Password", type: "password" };

/** The api-access flow. */
export const apiAccess = defineFlow({
  name: "api-access",
  title: "Tax portal API access",
  description: "Logs in to the tax portal (a human reads the captcha) and enables API access; " +
    "returns the portal's confirmation message and reference number.",
  input,
  secretInput: ["password"],
  async run(ctx) {
    const { page, signal } = ctx;
    const wait = { signal, step: "login" };
    const configured = {
      username: ctx.input.username ?? ctx.secrets.username ?? "",
      password: ctx.input.password ?? ctx.secrets.password ?? "",
    };
    await ctx.progress(5);
    await open(page, `${ctx.portalUrl}/tax/login`, wait);
    await ctx.progress(20);
    let error: string | undefined;
    for (let attempt = 1;; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new FlowError(`Cannot log in to the tax portal after ${MAX_ATTEMPTS} attempts: ${error}`, {
          step: "login",
        });
      }
      const image = await screenshotElement(page, "img#captcha", { signal, step: "captcha" });
      const askUsername = !configured.username;
      const askPassword = !configured.password;
      const answer = await ctx.ask({
        kind: "captcha",
        message: "Type the characters shown in the image to log in to the tax portal",
        image,
        fields: [
          CAPTCHA_FIELD,
          ...(askUsername ? [USERNAME_FIELD] : []),
          ...(askPassword ? [PASSWORD_FIELD] : []),
        ],
        error,
      });
      const value = (name: string) =>
        typeof answer === "string" ? (name === "captcha" ? answer : "") : answer[name] ?? "";
      const captcha = value("captcha").trim();
      const username = configured.username || value("username");
      const password = configured.password || value("password");
      if (!captcha || !username || !password) {
        // The form's fields are required: submitting it empty would not even leave the page.
        error = captcha ? "Enter the username and password" : "Enter the characters shown in the image";
        continue;
      }
      await fill(page, "form#login [name=username]", username, wait);
      await fill(page, "form#login [name=password]", password, wait);
      await fill(page, "form#login [name=captcha]", captcha, wait);
      await clickAndNavigate(page, "form#login [type=submit]", wait);
      if (await firstOf(page, { dashboard: "#enable-api", login: "form#login" }, wait) === "dashboard") break;

      error = await textOf(page, ".error") || "Login refused";
      if (/expired/i.test(error)) {
        throw new FlowError(`The tax portal session expired: ${error}`, { step: "login" });
      }
      if (/username|password/i.test(error) && !askUsername && !askPassword) {
        throw new FlowError(`Cannot log in to the tax portal: ${error}`, { step: "login" });
      }
    }
    await ctx.progress(60);

    const enable = { signal, step: "enable api" };
    await clickAndNavigate(page, "#enable-api", enable);
    await ctx.progress(80);
    if (await firstOf(page, { done: "#confirmation", login: "form#login" }, enable) === "login") {
      const reason = await textOf(page, ".error") || "Session expired";
      throw new FlowError(`The tax portal session ended before API access was enabled: ${reason}`, {
        step: "login",
      });
    }
    const result = {
      message: await textOf(page, "#confirmation"),
      reference: await textOf(page, "#reference"),
    };
    await ctx.progress(95);
    return result;
  },
});
