/** Page helpers the built-in flows share: bounded waits that honour the session's AbortSignal. */
import type { Page } from "puppeteer-core";
import { FlowError } from "../flow.ts";
import { waitInPage } from "./page_wait.ts";

/**
 * The little of the DOM that the flows' in-page functions use. Deno type-checks without the DOM lib
 * (adding it would change the globals of the whole program), so each flow file declares
 * `declare const document: PageDocument;` for the functions it passes to page.evaluate.
 */
export interface PageElement {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly innerHTML: string;
  readonly value?: string;
  readonly checked?: boolean;
  readonly complete?: boolean;
  readonly naturalWidth?: number;
  getAttribute(name: string): string | null;
  querySelector(selectors: string): PageElement | null;
}

/** The page's `document`, as far as the flows use it. */
export interface PageDocument {
  querySelector(selectors: string): PageElement | null;
  querySelectorAll(selectors: string): Iterable<PageElement>;
}

declare const document: PageDocument;

/** Options for a bounded, cancellable wait. */
export interface WaitOptions {
  signal: AbortSignal;
  /** The flow step reported when the wait times out. */
  step: string;
  /** Defaults to the page's default timeout: the session's one step timeout (FLOW_STEP_TIMEOUT_S). */
  timeoutMs?: number;
}

/**
 * Whether `error` is puppeteer's TimeoutError, checked by name so the flows (and the app) load without
 * importing puppeteer-core, which the pool imports only when it starts the browser.
 */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

/** Turns a puppeteer timeout into a FlowError naming the step; other errors pass through unchanged. */
export function stepTimeout(error: unknown, step: string, what: string): unknown {
  if (isTimeout(error)) {
    return new FlowError(`The portal did not show ${what} in time`, { step, cause: error });
  }
  return error;
}

/** Navigates to `url` and waits for its load event. */
export async function open(page: Page, url: string, options: WaitOptions): Promise<void> {
  try {
    await page.goto(url, { timeout: options.timeoutMs ?? page.getDefaultTimeout(), signal: options.signal });
  } catch (error) {
    throw stepTimeout(error, options.step, `the page ${new URL(url).pathname}`);
  }
}

/**
 * Fills the field matched by `selector` once it is visible: a select gets `value` chosen (input and change
 * events), a text field is focused, its text selected and replaced by `value` through CDP `Input.insertText`
 * (the page sees the beforeinput/input events of typing, as Playwright's fill does). Three round trips,
 * where puppeteer's locator fill costs a dozen plus one key event per character.
 */
export async function fill(page: Page, selector: string, value: string, options: WaitOptions): Promise<void> {
  try {
    await waitInPage(page, [["field", selector]], waitFor(page, options, true));
    const typed = await page.evaluate(prepareFill, selector, value);
    if (typed && value !== "") await page.keyboard.sendCharacter(value);
  } catch (error) {
    throw stepTimeout(error, options.step, selector);
  }
}

/**
 * In the page: chooses `value` of a select (answers false), or focuses a text field and selects its text so
 * that inserted text replaces it, clearing it for an empty `value` (answers true: type the value).
 */
function prepareFill(selector: string, value: string): boolean {
  const el = document.querySelector(selector) as unknown as FillTarget;
  if (el.tagName === "SELECT") {
    if (!Array.from(el.options!).some((o) => o.value === value)) {
      throw new Error(`No option ${value} in the select`);
    }
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
    return false;
  }
  el.focus();
  el.select?.();
  if (value === "" && el.value !== "") {
    el.value = "";
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }
  return true;
}

/** The part of an input, textarea or select that prepareFill touches. */
interface FillTarget {
  tagName: string;
  value: string;
  options?: ArrayLike<{ value: string }>;
  focus(): void;
  select?(): void;
  dispatchEvent(event: Event): boolean;
}

/**
 * Clicks `selector` once it is visible (a real mouse click at its centre, scrolled into view) and waits for
 * the navigation it starts (a form submit or a link).
 */
export async function clickAndNavigate(page: Page, selector: string, options: WaitOptions): Promise<void> {
  try {
    const wait = waitFor(page, options, true);
    await waitInPage(page, [["target", selector]], wait);
    const { x, y } = await page.evaluate(centreOf, selector);
    await Promise.all([
      page.waitForNavigation({ timeout: wait.timeoutMs, signal: options.signal }),
      page.mouse.click(x, y),
    ]);
  } catch (error) {
    throw stepTimeout(error, options.step, `the page after clicking ${selector}`);
  }
}

/** In the page: scrolls `selector` into view and answers its centre in viewport coordinates. */
function centreOf(selector: string): { x: number; y: number } {
  const el = document.querySelector(selector) as unknown as {
    scrollIntoView(o: Record<string, string>): void;
    getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  };
  el.scrollIntoView({ block: "center", inline: "center" });
  const r = el.getBoundingClientRect();
  return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
}

/** The options of waitInPage for a helper's wait. */
function waitFor(page: Page, options: WaitOptions, visible: boolean) {
  return { visible, timeoutMs: options.timeoutMs ?? page.getDefaultTimeout(), signal: options.signal };
}

/**
 * Waits until one of `outcomes` (name → CSS selector) is in the page and answers the first name whose
 * selector matches, in the order given. Survives navigations (the check reruns in the new document).
 */
export async function firstOf<K extends string>(
  page: Page,
  outcomes: Record<K, string>,
  options: WaitOptions,
): Promise<K> {
  const entries = Object.entries(outcomes) as [K, string][];
  try {
    return await waitInPage(page, entries, waitFor(page, options, false));
  } catch (error) {
    throw stepTimeout(error, options.step, `any of ${entries.map(([, s]) => s).join(", ")}`);
  }
}

/** The trimmed text of the first element matching `selector`, or "" when there is none. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return await page.evaluate(
    (s: string) => document.querySelector(s)?.textContent?.replace(/\s+/g, " ").trim() ?? "",
    selector,
  );
}

/** A CSS string literal for attribute selectors such as `[value=${cssString(v)}]`. */
export function cssString(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&").replace(/\n/g, "\\a ")}"`;
}

/** The visible element `selector` as PNG bytes, once it is in the page (and, for images, loaded). */
export async function screenshotElement(
  page: Page,
  selector: string,
  options: WaitOptions,
): Promise<Uint8Array> {
  let element: Awaited<ReturnType<Page["waitForSelector"]>> = null;
  try {
    element = await page.waitForSelector(selector, {
      visible: true,
      timeout: options.timeoutMs ?? page.getDefaultTimeout(),
      signal: options.signal,
    });
    if (!element) throw new FlowError(`The portal did not show ${selector}`, { step: options.step });
    await page.waitForFunction(
      (el: PageElement) => el.tagName !== "IMG" || (el.complete === true && (el.naturalWidth ?? 0) > 0),
      { timeout: options.timeoutMs ?? page.getDefaultTimeout(), signal: options.signal, polling: 100 },
      element,
    );
    return await element.screenshot({ type: "png" });
  } catch (error) {
    throw stepTimeout(error, options.step, selector);
  } finally {
    await element?.dispose();
  }
}

/** A downloaded file: its bytes and the content type the server declared. */
export interface Download {
  bytes: Uint8Array;
  contentType: string;
}

/**
 * Fetches `url` from inside the page, so the portal's session cookies apply, and returns the body.
 * Throws a FlowError naming `step` when the portal answers with an error status.
 */
export async function fetchInPage(page: Page, url: string, options: WaitOptions): Promise<Download> {
  options.signal.throwIfAborted();
  const result = await page.evaluate(
    async (target: string, timeoutMs: number) => {
      const res = await fetch(target, { credentials: "same-origin", signal: AbortSignal.timeout(timeoutMs) });
      const bytes = new Uint8Array(await res.arrayBuffer());
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return { status: res.status, contentType: res.headers.get("content-type") ?? "", base64: btoa(binary) };
    },
    url,
    options.timeoutMs ?? page.getDefaultTimeout(),
  );
  if (result.status < 200 || result.status > 299) {
    throw new FlowError(`The portal answered ${result.status} for ${new URL(url).pathname}`, {
      step: options.step,
    });
  }
  const bytes = Uint8Array.from(atob(result.base64), (c) => c.charCodeAt(0));
  return { bytes, contentType: result.contentType.split(";")[0].trim() || "application/octet-stream" };
}
