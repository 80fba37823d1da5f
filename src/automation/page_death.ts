/**
 * A session's page that dies — its renderer crashed (Inspector.targetCrashed: puppeteer's `error` event) or its
 * tab closed — is reported at once, instead of the session waiting until a step times out with a misleading
 * error (issue 15 item 5).
 */
import type { Page } from "puppeteer-core";

/** Calls `dead` once when `page` crashes or closes, until `signal` aborts. */
export function onPageDeath(
  page: Page,
  signal: AbortSignal,
  dead: (why: "crashed" | "closed") => void,
): void {
  const crashed = () => dead("crashed");
  const closed = () => dead("closed");
  page.once("error", crashed);
  page.once("close", closed);
  signal.addEventListener("abort", () => {
    page.off("error", crashed);
    page.off("close", closed);
  }, { once: true });
}
