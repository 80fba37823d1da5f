/** The browser pool: one Chromium (launched lazily, or a remote one), one isolated context per session. */
import type { Browser, BrowserContext, Page } from "puppeteer-core";
import type { Logger } from "../log.ts";
import { PROFILE_PREFIX, removeDir, removeStaleProfiles } from "./profiles.ts";
import { type WarmPage, WarmPages } from "./warm_pages.ts";
import { BrowserUnavailableError, CHROME_FLAGS, findChrome, isHeadlessShell } from "./chrome.ts";

/** Options of a pool. */
export interface BrowserPoolOptions {
  /** Chromium to launch (CHROME_PATH); auto-detected when unset. */
  executablePath?: string;
  /** A remote browser to connect to (BROWSER_WS_ENDPOINT) instead of launching one. */
  wsEndpoint?: string;
  log: Logger;
  /** How long a launch or connect may take. */
  launchTimeoutMs?: number;
  /** Contexts with a blank page kept ready for the next sessions (BROWSER_WARM_PAGES; default 0). */
  warmPages?: number;
}

/** One isolated browser context lent to one session. */
export interface Lease {
  readonly context: BrowserContext;
  /** Which browser (launch number) the context lives in; a crash fails the sessions of that generation. */
  readonly generation: number;
  readonly sessionId: string;
}

type CrashListener = (generation: number, reason: string) => void;

/**
 * One browser shared by all sessions, each in its own context. Launches on first use; when the browser
 * dies, the sessions of that generation are told (onCrash) and the next newContext launches a fresh one.
 */
export class BrowserPool implements AsyncDisposable {
  readonly #options: BrowserPoolOptions;
  #browser?: Browser;
  #launching?: Promise<Browser>;
  #generation = 0;
  #swept = false;
  #closed = false;
  /** Contexts this pool lent, with who borrowed them (so several session services can share one pool). */
  readonly #leases = new Map<BrowserContext, Lease & { owner: unknown }>();
  readonly #crashListeners = new Set<CrashListener>();
  /** The temporary profile folder of each launched browser. */
  readonly #profiles = new WeakMap<Browser, string>();
  readonly #profileDirs: string[] = [];
  /** Profile removals after a crash, awaited by close(). */
  readonly #cleanups = new Set<Promise<void>>();

  readonly #warm: WarmPages;
  /** Lent contexts whose sessions have not reached their first prompt yet (the warm stock waits for them). */
  readonly #starting = new Set<BrowserContext>();

  constructor(options: BrowserPoolOptions) {
    this.#options = options;
    this.#warm = new WarmPages(
      options.warmPages ?? 0,
      () => this.#makeWarm(),
      options.log,
      () => this.#starting.size > 0,
    );
  }

  /** The current browser, if one is running (tests kill it to simulate a crash). */
  get browser(): Browser | undefined {
    return this.#browser;
  }

  /** Every temporary profile folder this pool made (each is deleted when its browser goes away). */
  get profileDirs(): readonly string[] {
    return this.#profileDirs;
  }

  /** Number of contexts lent out and not yet closed. */
  get openContexts(): number {
    return this.#leases.size;
  }

  /** Number of warm contexts (each with a blank page) waiting for a session. */
  get warmPages(): number {
    return this.#warm.count;
  }

  /** True while the browser of `generation` is still the connected one. */
  isAlive(generation: number): boolean {
    return !!this.#browser && this.#generation === generation && this.#browser.connected;
  }

  /** Calls `fn` when a browser dies unexpectedly; returns the unsubscribe function. */
  onCrash(fn: CrashListener): () => void {
    this.#crashListeners.add(fn);
    return () => this.#crashListeners.delete(fn);
  }

  /** Opens a fresh isolated context for `sessionId`, launching the browser first if needed. */
  async newContext(sessionId: string, owner?: unknown): Promise<Lease> {
    if (this.#closed) throw new BrowserUnavailableError("Cannot start session: the browser pool is closed");
    const browser = await this.#ensureBrowser();
    const generation = this.#generation;
    const context = await browser.createBrowserContext();
    const lease = { context, generation, sessionId, owner };
    if (this.#closed || !browser.connected) {
      await context.close().catch(() => {});
      throw new BrowserUnavailableError(
        "Cannot start session: the browser went away while opening a context",
      );
    }
    this.#leases.set(context, lease);
    return lease;
  }

  /**
   * A context and page for `sessionId`: a warm one when one waits (the stock is then refilled in the
   * background), otherwise made now (launching the browser first if needed).
   */
  async openPage(sessionId: string, owner?: unknown): Promise<{ lease: Lease; page: Page }> {
    if (this.#closed) throw new BrowserUnavailableError("Cannot start session: the browser pool is closed");
    const warm = this.#browser?.connected ? this.#warm.take(this.#generation) : undefined;
    if (warm) {
      const lease = { context: warm.context, generation: warm.generation, sessionId, owner };
      this.#leases.set(warm.context, lease);
      this.#started(warm.context);
      return { lease, page: warm.page };
    }
    const lease = await this.newContext(sessionId, owner);
    try {
      const page = await lease.context.newPage();
      this.#started(lease.context);
      return { lease, page };
    } catch (err) {
      await this.closeContext(lease);
      throw err;
    }
  }

  async #makeWarm(): Promise<WarmPage> {
    const browser = await this.#ensureBrowser();
    const generation = this.#generation;
    const context = await browser.createBrowserContext();
    try {
      return { context, page: await context.newPage(), generation };
    } catch (err) {
      await context.close().catch(() => {});
      throw err;
    }
  }

  /** `context` went to a session on its way to its first prompt; the warm stock is topped up behind it. */
  #started(context: BrowserContext): void {
    this.#starting.add(context);
    this.#warm.refill();
  }

  /** The session of `lease` reached its first prompt: warm pages may be made again (see WarmPages.refill). */
  settled(lease: Lease): void {
    this.#starting.delete(lease.context);
  }

  /** Closes a lent context (idempotent; a context of a dead browser is only forgotten). */
  async closeContext(lease: Lease): Promise<void> {
    this.#starting.delete(lease.context);
    if (!this.#leases.delete(lease.context)) return;
    if (!this.isAlive(lease.generation)) return;
    try {
      await lease.context.close();
    } catch (err) {
      if (this.isAlive(lease.generation)) {
        this.#options.log.warn("closing a browser context failed", {
          session_id: lease.sessionId,
          error: err,
        });
      }
    }
  }

  /**
   * Closes the contexts of `owner` whose session `keep` rejects, and (in a browser we launched) contexts
   * that nobody borrowed (leaked by a failed open). Returns how many it closed.
   */
  async sweep(owner: unknown, keep: (sessionId: string) => boolean): Promise<number> {
    let closed = 0;
    for (const lease of [...this.#leases.values()]) {
      if (lease.owner === owner && !keep(lease.sessionId)) {
        await this.closeContext(lease);
        closed++;
      }
    }
    const browser = this.#browser;
    // A remote browser may serve other instances too: their contexts are not ours to close.
    if (browser?.connected && !this.#options.wsEndpoint) {
      const fallback = browser.defaultBrowserContext();
      for (const context of browser.browserContexts()) {
        if (context === fallback || this.#leases.has(context) || this.#warm.holds(context)) continue;
        await context.close().catch(() => {});
        closed++;
      }
    }
    return closed;
  }

  /** Launches (or connects to) the browser now instead of on the first session, and fills the warm pages. */
  async warm(): Promise<void> {
    await this.#ensureBrowser();
    this.#warm.refill();
  }

  #ensureBrowser(): Promise<Browser> {
    if (this.#browser?.connected) return Promise.resolve(this.#browser);
    this.#launching ??= this.#launch().finally(() => (this.#launching = undefined));
    return this.#launching;
  }

  async #launch(): Promise<Browser> {
    const { wsEndpoint, log } = this.#options;
    const timeout = this.#options.launchTimeoutMs ?? 30_000;
    let browser: Browser;
    let userDataDir: string | undefined;
    const started = performance.now();
    if (wsEndpoint) {
      try {
        browser = await (await puppeteerModule()).connect({
          browserWSEndpoint: wsEndpoint,
          protocolTimeout: timeout,
        });
      } catch (err) {
        throw new BrowserUnavailableError(
          `Cannot start session: the remote browser is unreachable (${(err as Error).message})`,
          { cause: err },
        );
      }
    } else {
      const executablePath = await findChrome(this.#options.executablePath);
      // Our own profile folder, removed when the browser goes away (also after a crash).
      userDataDir = await Deno.makeTempDir({ prefix: PROFILE_PREFIX });
      if (!this.#swept) {
        this.#swept = true; // once per pool: what a killed server left in the same temp folder
        await removeStaleProfiles(log, userDataDir.slice(0, userDataDir.lastIndexOf("/")));
      }
      this.#profileDirs.push(userDataDir);
      try {
        browser = await (await puppeteerModule()).launch({
          executablePath,
          headless: isHeadlessShell(executablePath) ? "shell" : true,
          userDataDir,
          args: CHROME_FLAGS.filter((f) => f !== "--headless=new"), // puppeteer adds it for headless: true
          timeout,
          protocolTimeout: timeout,
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
          // CDP over a pipe: Chromium ends when its parent dies, even by SIGKILL (no orphaned browsers).
          pipe: true,
        });
      } catch (err) {
        await removeDir(userDataDir);
        throw new BrowserUnavailableError(
          `Cannot start the browser ${executablePath}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    if (this.#closed) {
      await this.#shutdown(browser, userDataDir);
      throw new BrowserUnavailableError("Cannot start session: the browser pool is closed");
    }
    const generation = ++this.#generation;
    this.#browser = browser;
    if (userDataDir) this.#profiles.set(browser, userDataDir);
    browser.once("disconnected", () => this.#onDisconnected(browser, generation, userDataDir));
    log.info("browser ready", {
      generation,
      remote: !!wsEndpoint,
      pid: browser.process()?.pid,
      duration_ms: Math.round(performance.now() - started),
    });
    return browser;
  }

  #onDisconnected(browser: Browser, generation: number, userDataDir?: string) {
    if (this.#browser === browser) this.#browser = undefined;
    this.#warm.drop(generation);
    for (const [context, lease] of this.#leases) {
      if (lease.generation === generation) this.#leases.delete(context);
    }
    if (userDataDir) {
      const cleanup = waitForExit(browser).then(() => removeDir(userDataDir));
      this.#cleanups.add(cleanup);
      void cleanup.finally(() => this.#cleanups.delete(cleanup));
    }
    if (this.#closed) return;
    const reason = this.#options.wsEndpoint
      ? "the remote browser disconnected"
      : "the browser process exited unexpectedly";
    this.#options.log.error("browser lost", { generation, reason });
    for (const fn of this.#crashListeners) {
      try {
        fn(generation, reason);
      } catch (err) {
        this.#options.log.error("browser crash listener failed", { error: err });
      }
    }
  }

  async #shutdown(browser: Browser, userDataDir?: string) {
    try {
      if (this.#options.wsEndpoint) {
        // A remote browser is not ours to close; close what we opened and hang up.
        await Promise.all([...this.#leases.keys()].map((c) => c.close().catch(() => {})));
        await browser.disconnect();
      } else {
        await browser.close();
      }
    } catch (err) {
      this.#options.log.warn("closing the browser failed", { error: err });
      browser.process()?.kill("SIGKILL");
    }
    await waitForExit(browser);
    if (userDataDir) await removeDir(userDataDir);
  }

  /** Closes every context and the browser, and deletes the temporary profile. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#warm.close(!!this.#options.wsEndpoint); // a browser we launched closes them with itself
    const browser = this.#browser ?? await this.#launching?.catch(() => undefined);
    this.#browser = undefined;
    if (browser) await this.#shutdown(browser, this.#profiles.get(browser));
    this.#leases.clear();
    await Promise.all(this.#cleanups);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function waitForExit(browser: Browser): Promise<void> {
  const proc = browser.process();
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** puppeteer-core, imported when the first browser starts (it is ~100 ms of the server's start-up otherwise). */
async function puppeteerModule() {
  return (await import("puppeteer-core")).default;
}
