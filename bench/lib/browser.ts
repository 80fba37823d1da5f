/** Bench helper: puppeteer's own browser, launched as gatehouse's pool launches it (flags, headless mode). */
import puppeteer, { type Browser } from "puppeteer-core";
import { CHROME_FLAGS, isHeadlessShell } from "../../src/automation/chrome.ts";

/** Launches `executablePath` with the pool's flags (CDP over a pipe, as the pool does), signals left to us. */
export function launchLikePool(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: isHeadlessShell(executablePath) ? "shell" : true,
    args: CHROME_FLAGS.filter((f) => f !== "--headless=new"), // puppeteer adds it for headless: true
    pipe: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}
