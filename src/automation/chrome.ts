/** Which Chromium the pool launches and how: the well-known paths, the flags, the headless mode. */

/** Thrown when no browser can be launched or reached. */
export class BrowserUnavailableError extends Error {
  override name = "BrowserUnavailableError";
}

/** Flags this machine's closed network needs; see the issue and chromium's `--help`. */
export const CHROME_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Where Chromium is looked for when CHROME_PATH is not set, in order. Debian's headless shell comes first:
 * it runs the same engine without the browser UI layer, and a burst of 50 sessions cost 196 ms of CPU per
 * session against 344 ms with `chromium --headless=new` here (bench/burst.ts, issue 16).
 */
export const CHROME_CANDIDATES = [
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium-headless-shell",
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/snap/bin/chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

/** Finds Chromium: the configured path, else the first well-known one that exists. */
export async function findChrome(configured?: string): Promise<string> {
  const candidates = configured ? [configured] : CHROME_CANDIDATES;
  for (const path of candidates) {
    try {
      const info = await Deno.stat(path);
      if (info.isFile || info.isSymlink) return path;
    } catch {
      // not there; try the next
    }
  }
  throw new BrowserUnavailableError(
    configured
      ? `Cannot start the browser: CHROME_PATH ${configured} does not exist`
      : `Cannot start the browser: no Chromium found (looked in ${
        CHROME_CANDIDATES.slice(0, 4).join(", ")
      }…); set CHROME_PATH or BROWSER_WS_ENDPOINT`,
  );
}

/** True for a chrome-headless-shell binary (puppeteer then passes `--headless`, not `--headless=new`). */
export function isHeadlessShell(executablePath: string): boolean {
  return /headless[-_]shell/.test(executablePath.slice(executablePath.lastIndexOf("/") + 1));
}
