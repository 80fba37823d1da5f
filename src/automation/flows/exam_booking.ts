/**
 * exam-booking: logs in to the driving-test booking site with BankID (the human scans a QR code that
 * changes every second, streamed live), searches free slots across locations and books one.
 *
 * Progress reports the legacy statuses as `progress(pct, "status", status)`, in this order:
 * starting, navigating, login, bankid, qr_waiting, authenticated, configuring, locations, searching,
 * booking, completed.
 *
 * Portal contract (under `${portalUrl}/booking`): / has a#start; the login page shows the QR in div#qr
 * (replaced in place every second), p#qr-error "BankID timed out" when it gives up, and navigates to the
 * search page once approved; form#search select[name=license_type], select[name=exam_type] (an exam
 * type is named by its option's value or its shown text, e.g. "Körprov"),
 * input[name=location] checkboxes (value = location name), p.error for values it refuses; ul#slots of
 * li.slot[data-slot-id][data-location][data-date][data-time] with button.book; div#booking
 * [data-booking-id][data-location][data-date][data-time]; p.error when a slot cannot be booked.
 */
import { z } from "zod";
import type { Page } from "puppeteer-core";
import { defineFlow, type FlowContext, FlowError, type PromptHandle } from "../flow.ts";
import {
  clickAndNavigate,
  cssString,
  fill,
  firstOf,
  isTimeout,
  open,
  type PageDocument,
  type PageElement,
  textOf,
} from "./support.ts";

declare const document: PageDocument;

/** How long the flow waits for BankID approval; the portal itself gives up after 120 s. */
const BANKID_WAIT_MS = 150_000;
/**
 * Without a change on the page, the last QR frame is sent again after this long. The page changes
 * about every second; 500 ms plus a screenshot's time keeps every gap under a second, with room for a busy machine.
 */
const QR_HEARTBEAT_MS = 500;
/** Wrong answers to the slot choice before the flow gives up. */
const MAX_CHOICE_ATTEMPTS = 3;
/** The QR's own element inside div#qr (the div itself spans the page width). */
const QR_IMAGE = "#qr svg, #qr img, #qr canvas";

const input = z.object({
  license_type: z.string().trim().min(1),
  exam_type: z.string().trim().min(1),
  locations: z.array(z.string().trim().min(1)).min(1),
  choose: z.boolean().optional(),
});

type Input = z.output<typeof input>;

/** A free slot as listed on the results page. */
interface Slot {
  id: string;
  location: string;
  date: string;
  time: string;
}

/** The QR as PNG bytes, or undefined when it is not (or no longer) on the page. */
async function qrFrame(page: Page): Promise<Uint8Array | undefined> {
  const element = await page.$(QR_IMAGE) ?? await page.$("#qr");
  if (!element) return undefined;
  try {
    return await element.screenshot({ type: "png" });
  } finally {
    await element.dispose();
  }
}

type QrState = { state: "changed"; html: string } | { state: "left" | "timeout" };

/**
 * Streams the QR to the open prompt until the page leaves the login page: a new frame as soon as
 * div#qr changes, and the last frame again when QR_HEARTBEAT_MS pass without a change, so the client
 * gets at least one frame per second even though the page's own cadence drifts around 1 s.
 */
async function streamQr(
  ctx: FlowContext<Input>,
  prompt: PromptHandle,
  first: { html: string; frame: Uint8Array },
): Promise<void> {
  const { page, signal } = ctx;
  const deadline = Date.now() + BANKID_WAIT_MS;
  let promptEnded = false;
  prompt.answer.catch(() => promptEnded = true);
  let { html, frame } = first;
  let lastSent = Date.now();
  for (;;) {
    signal.throwIfAborted();
    if (promptEnded) {
      throw new FlowError("The QR prompt ended before BankID approved the login", { step: "bankid" });
    }
    if (Date.now() > deadline) {
      throw new FlowError(`BankID did not approve the login within ${BANKID_WAIT_MS / 1000} s`, {
        step: "bankid",
      });
    }
    let next: QrState | undefined;
    try {
      const handle = await page.waitForFunction(
        (previous: string) => {
          if (document.querySelector("#qr-error")) return { state: "timeout" };
          const qr = document.querySelector("#qr");
          if (!qr) return { state: "left" };
          return qr.innerHTML === previous ? false : { state: "changed", html: qr.innerHTML };
        },
        { polling: "mutation", timeout: Math.max(1, lastSent + QR_HEARTBEAT_MS - Date.now()), signal },
        html,
      );
      next = await handle.jsonValue() as QrState;
      await handle.dispose();
    } catch (error) {
      if (!isTimeout(error)) throw error;
    }
    if (next?.state === "left") return;
    if (next?.state === "timeout") {
      throw new FlowError(await textOf(page, "#qr-error") || "BankID timed out", { step: "bankid" });
    }
    if (next?.state === "changed") {
      const fresh = await qrFrame(page).catch((error) => {
        if (signal.aborted) throw error;
        return undefined; // The page is navigating away; the next check sees where it went.
      });
      if (!fresh) continue;
      html = next.html;
      frame = fresh;
    }
    // A heartbeat re-sends the last frame: the QR has not changed, so neither has its picture.
    await ctx.showImage(prompt.id, frame);
    lastSent = Date.now();
  }
}

/** Logs in with BankID: opens the `qr` prompt, streams the code, and closes the prompt once approved. */
async function logInWithBankId(ctx: FlowContext<Input>, status: (pct: number, s: string) => Promise<void>) {
  const { page, signal } = ctx;
  const wait = { signal, step: "bankid" };
  try {
    await page.waitForSelector(QR_IMAGE, { visible: true, timeout: page.getDefaultTimeout(), signal });
  } catch (error) {
    if (isTimeout(error)) {
      throw new FlowError("The portal did not show a BankID QR code", { step: "bankid" });
    }
    throw error;
  }
  await status(15, "bankid");
  const html = await page.$eval("#qr", (qr: PageElement) => qr.innerHTML);
  const frame = await qrFrame(page);
  if (!frame) throw new FlowError("The portal did not show a BankID QR code", { step: "bankid" });
  const prompt = await ctx.prompt({ kind: "qr", message: "Scan the QR code with BankID", image: frame });
  try {
    await status(20, "qr_waiting");
    await streamQr(ctx, prompt, { html, frame });
  } catch (error) {
    await prompt.close().catch(() => {}); // The flow's own error is the one to report.
    throw error;
  }
  await prompt.close();
  const landed = await firstOf(page, { search: "form#search", timeout: "#qr-error", restarted: "#qr" }, wait);
  if (landed === "timeout") {
    throw new FlowError(await textOf(page, "#qr-error") || "BankID timed out", { step: "bankid" });
  }
  if (landed === "restarted") {
    throw new FlowError("The portal did not accept the BankID login", { step: "bankid" });
  }
}

/** The value of the option named `name` by its value or its shown text (any case, any Unicode form). */
function optionValue(options: { value: string; text: string }[], name: string): string | undefined {
  const key = (s: string) => s.trim().normalize("NFC").toLowerCase();
  return (options.find((o) => o.value === name) ?? options.find((o) => key(o.text) === key(name)))?.value;
}

/** Sets the search form's selects and location checkboxes, refusing values the form does not offer. */
async function configureSearch(ctx: FlowContext<Input>, status: (pct: number, s: string) => Promise<void>) {
  const { page, input, signal } = ctx;
  const wait = { signal, step: "configuring" };
  await status(40, "configuring");
  const offered = await page.evaluate(() => {
    const values = (selector: string) => [...document.querySelectorAll(selector)].map((e) => e.value ?? "");
    return {
      license: values("form#search select[name=license_type] option"),
      exam: [...document.querySelectorAll("form#search select[name=exam_type] option")]
        .map((e) => ({ value: e.value ?? "", text: e.textContent ?? "" })),
      locations: values("form#search input[name=location]"),
    };
  });
  const refuse = (what: string, value: string, choices: string[]) =>
    new FlowError(`Unknown ${what} ${value} (the portal offers ${choices.join(", ") || "none"})`, {
      step: "configuring",
    });
  if (!offered.license.includes(input.license_type)) {
    throw refuse("license type", input.license_type, offered.license);
  }
  const exam = optionValue(offered.exam, input.exam_type);
  if (exam === undefined) {
    throw refuse("exam type", input.exam_type, offered.exam.map((o) => `${o.value} (${o.text.trim()})`));
  }
  await fill(page, "form#search select[name=license_type]", input.license_type, wait);
  await fill(page, "form#search select[name=exam_type]", exam, wait);

  await status(50, "locations");
  const unknown = input.locations.find((l) => !offered.locations.includes(l));
  if (unknown !== undefined) throw refuse("location", unknown, offered.locations);
  for (const location of offered.locations) {
    const box = `form#search input[name=location][value=${cssString(location)}]`;
    const wanted = input.locations.includes(location);
    if (await page.$eval(box, (e: PageElement) => e.checked === true) === wanted) continue;
    await page.locator(box).setTimeout(page.getDefaultTimeout()).click({ signal });
  }
}

/** Submits the search and reads the free slots, earliest first. */
async function searchSlots(ctx: FlowContext<Input>): Promise<Slot[]> {
  const { page, signal } = ctx;
  const wait = { signal, step: "searching" };
  await clickAndNavigate(page, "form#search [type=submit]", wait);
  if (await firstOf(page, { slots: "ul#slots", error: ".error" }, wait) === "error") {
    // The portal refused the search (e.g. a value the form offered but the server does not accept).
    throw new FlowError(await textOf(page, ".error"), { step: "configuring" });
  }
  const slots = await page.$$eval("ul#slots li.slot", (items) =>
    items.map((li) => ({
      id: li.getAttribute("data-slot-id") ?? "",
      location: li.getAttribute("data-location") ?? "",
      date: li.getAttribute("data-date") ?? "",
      time: li.getAttribute("data-time") ?? "",
    })));
  return slots.filter((s) => s.id).sort((a, b) =>
    a.date.localeCompare(b.date) || a.time.localeCompare(b.time) || a.location.localeCompare(b.location)
  );
}

/** The earliest slot, or the one the human picks from a `choice` prompt. */
async function pickSlot(ctx: FlowContext<Input>, slots: Slot[]): Promise<Slot> {
  if (!ctx.input.choose) return slots[0];
  let error: string | undefined;
  for (let attempt = 1; attempt <= MAX_CHOICE_ATTEMPTS; attempt++) {
    const answer = await ctx.ask({
      kind: "choice",
      message: "Choose a test slot",
      options: slots.map((s) => ({ value: s.id, label: `${s.location}, ${s.date} ${s.time}` })),
      error,
    });
    const value = typeof answer === "string" ? answer : answer.value ?? answer.choice ?? "";
    const slot = slots.find((s) => s.id === value.trim());
    if (slot) return slot;
    error = "Choose one of the listed slots";
  }
  throw new FlowError(`No slot was chosen after ${MAX_CHOICE_ATTEMPTS} attempts`, { step: "booking" });
}

/** The exam-booking flow. */
export const examBooking = defineFlow({
  name: "exam-booking",
  title: "Driving-test booking",
  description: "Logs in to the driving-test booking site with BankID (live QR code), searches free slots " +
    "in the given locations and books the earliest one, or the one the human chooses when `choose` is true.",
  input,
  async run(ctx) {
    const { page, input, signal } = ctx;
    const status = (pct: number, value: string) => ctx.progress(pct, "status", value);
    await status(2, "starting");
    await status(5, "navigating");
    await open(page, `${ctx.portalUrl}/booking/`, { signal, step: "navigating" });
    await status(10, "login");
    await clickAndNavigate(page, "a#start", { signal, step: "login" });
    await logInWithBankId(ctx, status);
    await status(35, "authenticated");
    await configureSearch(ctx, status);
    await status(60, "searching");
    const slots = await searchSlots(ctx);
    if (slots.length === 0) {
      throw new FlowError(
        `No free ${input.exam_type} slots for license ${input.license_type} in ${input.locations.join(", ")}`,
        { step: "searching" },
      );
    }
    const slot = await pickSlot(ctx, slots);

    await status(80, "booking");
    const wait = { signal, step: "booking" };
    await clickAndNavigate(page, `ul#slots li.slot[data-slot-id=${cssString(slot.id)}] button.book`, wait);
    if (await firstOf(page, { booked: "#booking", error: ".error" }, wait) === "error") {
      throw new FlowError(await textOf(page, ".error") || "The slot could not be booked", {
        step: "booking",
      });
    }
    const booking = await page.$eval("#booking", (el) => ({
      booking_id: el.getAttribute("data-booking-id") ?? "",
      location: el.getAttribute("data-location") ?? "",
      date: el.getAttribute("data-date") ?? "",
      time: el.getAttribute("data-time") ?? "",
    }));
    await status(95, "completed");
    return booking;
  },
});
