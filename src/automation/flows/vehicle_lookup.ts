/**
 * vehicle-lookup: logs in to the vehicle registry (password, then an SMS code), searches a plate and
 * streams every data item as progress, saving the inspection photos as artifacts.
 *
 * Portal contract (under `${portalUrl}/registry`): /login form#login [name=username] [name=password],
 * p.error on failure; form#twofa [name=code] with p#twofa-message, p.error on a wrong code, back to
 * form#login (p.error) once the portal gives up; form#search [name=plate] → table#registration, #specs,
 * #odometer, #accidents, #restrictions of tr[data-key] > th + td (data-key "none" = no records), or
 * #not-found; img.inspection-photo.
 */
import { z } from "zod";
import type { Page } from "puppeteer-core";
import { type Answer, defineFlow, type FlowContext, FlowError } from "../flow.ts";
import { clickAndNavigate, fetchInPage, fill, firstOf, open, type PageDocument, textOf } from "./support.ts";

declare const document: PageDocument;

/** How many times a human may retype credentials or the SMS code before the flow gives up. */
const MAX_ATTEMPTS = 5;

const SECTIONS = ["registration", "specs", "odometer", "accidents", "restrictions"] as const;
type Section = typeof SECTIONS[number];
/**
 * What a data item's progress key starts with, per section: registration and specs keep the portal's
 * key (`brand`), dated and named rows say what they are (`odometer.2022-05-30`, `accident.2019-11-03`,
 * `restriction.lien`), so no two items of a lookup share a key.
 */
const KEY_PREFIX: Record<Section, string> = {
  registration: "",
  specs: "",
  odometer: "odometer.",
  accidents: "accident.",
  restrictions: "restriction.",
};

/** The progress key of each row: its section's prefix, plus `.2`, `.3`… for a repeat (two accidents a day). */
function itemKeys(sections: Record<Section, Row[]>): { key: string; value: string }[] {
  const seen = new Map<string, number>();
  return SECTIONS.flatMap((section) =>
    sections[section].map((row) => {
      const base = `${KEY_PREFIX[section]}${row.key}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return { key: n === 1 ? base : `${base}.${n}`, value: row.value };
    })
  );
}

/** One tr[data-key] of a vehicle table. */
interface Row {
  key: string;
  label: string;
  value: string;
}

const input = z.object({
  plate: z.string()
    .trim()
    .regex(/^[A-Za-z0-9 -]{2,10}$/, "A plate is 2–10 letters, digits, spaces or dashes")
    .transform((plate) => plate.toUpperCase().replace(/[\s-]+/g, ""))
    .pipe(z.string().regex(/^[A-Z0-9]{2,10}$/, "A plate needs at least 2 letters or digits")),
});

const CREDENTIAL_FIELDS = [
  { name: "username", label: "Username" },
  { name: "password", label: "Password", type: "password" as const },
];

function field(answer: Answer, name: string): string {
  return typeof answer === "string" ? (name === "code" ? answer : "") : answer[name] ?? "";
}

/** Logs in with server-side credentials, or asks the human (again on a refusal). */
async function logIn(ctx: FlowContext<z.output<typeof input>>, page: Page): Promise<void> {
  const wait = { signal: ctx.signal, step: "login" };
  const configured = ctx.secrets.username && ctx.secrets.password
    ? { username: ctx.secrets.username, password: ctx.secrets.password }
    : undefined;
  await open(page, `${ctx.portalUrl}/registry/login`, wait);
  let error: string | undefined;
  for (let attempt = 1;; attempt++) {
    let credentials = configured;
    if (!credentials) {
      const answer = await ctx.ask({
        kind: "credentials",
        message: "Log in to the vehicle registry",
        fields: CREDENTIAL_FIELDS,
        error,
      });
      credentials = { username: field(answer, "username"), password: field(answer, "password") };
      if (!credentials.username || !credentials.password) {
        // The form's fields are required: submitting it empty would not even leave the page.
        error = "Enter the username and password";
        if (attempt >= MAX_ATTEMPTS) {
          throw new FlowError("No credentials for the vehicle registry", { step: "login" });
        }
        continue;
      }
    }
    await fill(page, "form#login [name=username]", credentials.username, wait);
    await fill(page, "form#login [name=password]", credentials.password, wait);
    await clickAndNavigate(page, "form#login [type=submit]", wait);
    if (await firstOf(page, { twofa: "form#twofa", login: "form#login" }, wait) === "twofa") return;
    error = await textOf(page, ".error") || "Login refused";
    if (configured) {
      throw new FlowError(`Cannot log in to the vehicle registry: ${error}`, { step: "login" });
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new FlowError(`Cannot log in to the vehicle registry after ${attempt} attempts: ${error}`, {
        step: "login",
      });
    }
  }
}

/** Asks for the SMS code until the portal accepts it (or sends us back to the login page). */
async function verifyCode(ctx: FlowContext<z.output<typeof input>>, page: Page): Promise<void> {
  const wait = { signal: ctx.signal, step: "2fa" };
  const message = await textOf(page, "#twofa-message") || "Enter the code the vehicle registry sent by SMS";
  let error: string | undefined;
  for (let attempt = 1;; attempt++) {
    const code = field(await ctx.ask({ kind: "code", message, error }), "code").trim();
    if (!code) {
      error = "Enter the code";
      if (attempt >= MAX_ATTEMPTS) throw new FlowError("No SMS code was entered", { step: "2fa" });
      continue;
    }
    await fill(page, "form#twofa [name=code]", code, wait);
    await clickAndNavigate(page, "form#twofa [type=submit]", wait);
    const outcome = await firstOf(
      page,
      { search: "form#search", twofa: "form#twofa", login: "form#login" },
      wait,
    );
    if (outcome === "search") return;
    error = await textOf(page, ".error") || "Invalid code";
    if (outcome === "login" || attempt >= MAX_ATTEMPTS) {
      throw new FlowError(`The vehicle registry refused the SMS code: ${error}`, { step: "2fa" });
    }
  }
}

/** Every data row of the vehicle page, by section (placeholder rows for empty tables dropped). */
async function readSections(page: Page): Promise<Record<Section, Row[]>> {
  return await page.evaluate((sections: readonly string[]) => {
    const read = (id: string) =>
      [...document.querySelectorAll(`table#${id} tr[data-key]`)]
        .filter((tr) => tr.getAttribute("data-key") !== "none")
        .map((tr) => ({
          key: tr.getAttribute("data-key") ?? "",
          label: tr.querySelector("th")?.textContent?.trim() ?? "",
          value: tr.querySelector("td")?.textContent?.trim() ?? "",
        }));
    return Object.fromEntries(sections.map((id) => [id, read(id)]));
  }, SECTIONS) as Record<Section, Row[]>;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
};

/** "129 870 km" → 129870; null when the cell holds no digits. */
function kilometres(value: string): number | null {
  const digits = value.replace(/\D/g, "");
  return digits ? Number(digits) : null;
}

/** The vehicle-lookup flow. */
export const vehicleLookup = defineFlow({
  name: "vehicle-lookup",
  title: "Vehicle registry lookup",
  description: "Logs in to the vehicle registry (password and SMS code), looks up a plate and returns " +
    "registration, technical data, odometer readings, accidents, restrictions and inspection photos.",
  input,
  async run(ctx) {
    const { page, signal } = ctx;
    const plate = ctx.input.plate;
    await ctx.progress(2);
    await logIn(ctx, page);
    await ctx.progress(10);
    await verifyCode(ctx, page);
    await ctx.progress(15);

    const wait = { signal, step: "search" };
    await fill(page, "form#search [name=plate]", plate, wait);
    await clickAndNavigate(page, "form#search [type=submit]", wait);
    if (await firstOf(page, { found: "table#registration", missing: "#not-found" }, wait) === "missing") {
      throw new FlowError(`No vehicle found with plate ${plate}`, { step: "search" });
    }
    await ctx.progress(20);

    const sections = await readSections(page);
    const items = itemKeys(sections);
    for (const [i, row] of items.entries()) {
      await ctx.progress(20 + Math.floor((70 * (i + 1)) / items.length), row.key, row.value);
    }

    const photoWait = { signal, step: "photos" };
    const urls = await page.$$eval(
      "img.inspection-photo",
      (imgs) => imgs.map((img) => (img as unknown as { src: string }).src),
    );
    const photos: string[] = [];
    for (const [i, url] of urls.entries()) {
      const { bytes, contentType } = await fetchInPage(page, url, photoWait);
      const name = `photo-${i + 1}.${EXTENSIONS[contentType] ?? "bin"}`;
      await ctx.artifact(name, bytes, contentType);
      photos.push(name);
      await ctx.progress(90 + Math.floor((8 * (i + 1)) / urls.length));
    }

    const byKey = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.key, r.value]));
    return {
      plate,
      registration: byKey(sections.registration),
      specs: byKey(sections.specs),
      odometer: sections.odometer.map((r) => ({ date: r.key, km: kilometres(r.value) })),
      accidents: sections.accidents.map((r) => ({ date: r.key, description: r.value })),
      restrictions: byKey(sections.restrictions),
      photos,
    };
  },
});
