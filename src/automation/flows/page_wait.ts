/**
 * Waiting for elements with one small function run in the page, instead of puppeteer's selector waits:
 * those inject puppeteer's utility bundle into every new document, which was a third of a session's CPU in
 * a burst of 50 sessions on 2 cores (issue 16). The wait survives navigations: when the document it ran in
 * goes away, it runs again in the next one.
 */
import type { Page } from "puppeteer-core";

/** The little of the DOM that waitForAny uses (Deno type-checks without the DOM lib). */
interface WaitDom {
  querySelector(selector: string): { getClientRects(): { length: number } } | null;
}
declare const document: WaitDom;
declare const getComputedStyle: (el: unknown) => { visibility: string };
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: unknown, options: Record<string, boolean>): void;
  disconnect(): void;
}

/**
 * In the page: resolves to the name of the first `[name, selector]` whose element is there (and visible
 * when `visible`: laid out, not `visibility: hidden`), rechecked on every DOM mutation and every 250 ms;
 * null after `timeoutMs`.
 */
function waitForAny(list: [string, string][], visible: boolean, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const check = () => {
      for (const [name, selector] of list) {
        const el = document.querySelector(selector);
        if (!el) continue;
        if (!visible || (el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden")) {
          return name;
        }
      }
      return null;
    };
    const first = check();
    if (first !== null) return resolve(first);
    const done = (found: string | null) => {
      observer.disconnect();
      clearInterval(poll);
      clearTimeout(timer);
      resolve(found);
    };
    const recheck = () => {
      const found = check();
      if (found !== null) done(found);
    };
    const observer = new MutationObserver(recheck);
    observer.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
    const poll = setInterval(recheck, 250);
    const timer = setTimeout(() => done(null), timeoutMs);
  });
}

/** puppeteer's name for a timeout, so stepTimeout (support.ts) words it as the step's timeout. */
export class PageWaitTimeout extends Error {
  override name = "TimeoutError";
}

/** True for the errors of an evaluation whose document went away (a navigation): look again in the next. */
function documentGone(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  return /Execution context was destroyed|Cannot find context with specified id|Inspected target navigated/
    .test(message);
}

/** Settles like `promise`, or rejects with the signal's reason once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Waits until one of `outcomes` (`[name, CSS selector]`, in order of preference) is in the page (and visible,
 * with `visible`), and answers its name; a PageWaitTimeout after `timeoutMs`, the signal's reason on abort.
 */
export async function waitInPage<K extends string>(
  page: Page,
  outcomes: [K, string][],
  options: { visible: boolean; timeoutMs: number; signal: AbortSignal },
): Promise<K> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const found = await abortable(
        page.evaluate(waitForAny, outcomes, options.visible, left),
        options.signal,
      );
      if (found !== null) return found as K;
    } catch (error) {
      if (!documentGone(error)) throw error;
    }
  }
  throw new PageWaitTimeout(
    `Waiting for ${outcomes.map(([, s]) => s).join(", ")} failed: ${options.timeoutMs} ms`,
  );
}
