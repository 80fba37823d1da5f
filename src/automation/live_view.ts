/**
 * The live view: a session's browser tab streamed as JPEG frames (CDP `Page.startScreencast`) to the
 * sockets that watch it, at most MAX_FPS, and only while at least one socket watches (the screencast
 * starts with the first watcher and stops with the last). Take-over: once the session's owner enables
 * control, watchers' pointer and key events are replayed on the tab with CDP `Input.dispatch*`.
 */
import type { CDPSession, Page } from "puppeteer-core";
import type { Logger } from "../log.ts";

/** Frames per second a watcher gets at most. */
export const MAX_FPS = 5;

/** One frame as watchers receive it (the socket message without `type`/`seq`). */
export interface LiveFrame {
  /** Base64 JPEG. */
  data: string;
  /** The tab's CSS viewport size the frame shows (pointer coordinates are in these units). */
  width: number;
  height: number;
}

/** What a watcher gets: frames, and changes of the control flag. */
export interface Watcher {
  frame(frame: LiveFrame): void;
  control(enabled: boolean): void;
  /** The session has no browser tab here (queued, ended or run by another instance). */
  unavailable(): void;
}

/** A pointer or key event from a watcher who has control (coordinates in the tab's CSS pixels). */
export type ControlInput =
  | { kind: "click"; x: number; y: number }
  | { kind: "scroll"; x: number; y: number; dy: number }
  | { kind: "key"; key: string }
  | { kind: "text"; text: string };

/** Keys that are not text, with their Windows virtual key codes (what CDP needs for them to act). */
const SPECIAL_KEYS: Record<string, { code: number; text?: string }> = {
  Enter: { code: 13, text: "\r" },
  Backspace: { code: 8 },
  Tab: { code: 9 },
  Escape: { code: 27 },
  Delete: { code: 46 },
  ArrowLeft: { code: 37 },
  ArrowUp: { code: 38 },
  ArrowRight: { code: 39 },
  ArrowDown: { code: 40 },
};

interface Stream {
  watchers: Set<Watcher>;
  control: boolean;
  cdp?: Promise<CDPSession | undefined>;
  lastSentAt: number;
  /** Frames sent to watchers since the stream started (for tests and the log). */
  sent: number;
}

/** Live views of the sessions this instance runs. */
export class LiveView {
  readonly #page: (id: string) => Page | undefined;
  readonly #log: Logger;
  readonly #streams = new Map<string, Stream>();

  constructor(page: (id: string) => Page | undefined, log: Logger) {
    this.#page = page;
    this.#log = log;
  }

  /** True while `id` streams frames (someone watches). */
  streaming(id: string): boolean {
    return !!this.#streams.get(id)?.cdp;
  }

  /** Whether control of `id` is handed to its watchers. */
  controlled(id: string): boolean {
    return this.#streams.get(id)?.control ?? false;
  }

  /** Adds a watcher of `id`; returns the function that removes it (the last one stops the stream). */
  watch(id: string, watcher: Watcher): () => void {
    const stream = this.#stream(id);
    stream.watchers.add(watcher);
    watcher.control(stream.control);
    if (!stream.cdp) {
      const started = stream.cdp = this.#start(id, stream);
      void started.then((cdp) => {
        if (cdp) return;
        if (stream.cdp === started) stream.cdp = undefined;
        for (const w of stream.watchers) w.unavailable();
      });
    }
    return () => {
      if (!stream.watchers.delete(watcher) || stream.watchers.size) return;
      const cdp = stream.cdp;
      stream.cdp = undefined;
      void cdp?.then((s) => s?.detach()).catch(() => {}); // detaching ends its screencast
    };
  }

  /** Hands control of `id` to its watchers (or takes it back); only the session's owner may call this. */
  setControl(id: string, enabled: boolean): void {
    const stream = this.#stream(id);
    stream.control = enabled;
    for (const w of stream.watchers) w.control(enabled);
  }

  /** Replays `input` on `id`'s tab; false when control is not handed over or nobody streams it. */
  async dispatch(id: string, input: ControlInput): Promise<boolean> {
    const stream = this.#streams.get(id);
    const cdp = stream?.control ? await stream.cdp : undefined;
    if (!cdp) return false;
    if (input.kind === "click") {
      const at = { x: input.x, y: input.y, button: "left" as const, clickCount: 1 };
      await cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: input.x, y: input.y });
      await cdp.send("Input.dispatchMouseEvent", { type: "mousePressed", ...at });
      await cdp.send("Input.dispatchMouseEvent", { type: "mouseReleased", ...at });
    } else if (input.kind === "scroll") {
      await cdp.send("Input.dispatchMouseEvent", {
        type: "mouseWheel",
        x: input.x,
        y: input.y,
        deltaX: 0,
        deltaY: input.dy,
      });
    } else if (input.kind === "text") {
      await cdp.send("Input.insertText", { text: input.text });
    } else {
      const special = SPECIAL_KEYS[input.key];
      if (!special && [...input.key].length !== 1) return false;
      const key = {
        key: input.key,
        code: special ? input.key : undefined,
        windowsVirtualKeyCode: special?.code,
        text: special ? special.text : input.key,
      };
      await cdp.send("Input.dispatchKeyEvent", { type: key.text ? "keyDown" : "rawKeyDown", ...key });
      await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", ...key, text: undefined });
    }
    return true;
  }

  /** Frames sent to watchers of `id` since its tab opened (kept until the tab closes). */
  framesSent(id: string): number {
    return this.#streams.get(id)?.sent ?? 0;
  }

  /** The state of `id`'s tab; it lives as long as the tab (a session that has none gets a fresh one each time). */
  #stream(id: string): Stream {
    let stream = this.#streams.get(id);
    if (!stream) {
      stream = { watchers: new Set(), control: false, lastSentAt: 0, sent: 0 };
      const page = this.#page(id);
      if (!page) return stream;
      this.#streams.set(id, stream);
      page.once("close", () => this.#streams.delete(id));
    }
    return stream;
  }

  async #start(id: string, stream: Stream): Promise<CDPSession | undefined> {
    const page = this.#page(id);
    if (!page) return undefined;
    try {
      const cdp = await page.createCDPSession();
      cdp.on("Page.screencastFrame", (ev) => {
        // Ack every frame (Chromium sends the next one only then); forward at most MAX_FPS of them.
        void cdp.send("Page.screencastFrameAck", { sessionId: ev.sessionId }).catch(() => {});
        const now = Date.now();
        if (now - stream.lastSentAt < 1000 / MAX_FPS || stream.cdp === undefined) return;
        stream.lastSentAt = now;
        stream.sent++;
        const frame = { data: ev.data, width: ev.metadata.deviceWidth, height: ev.metadata.deviceHeight };
        for (const w of stream.watchers) w.frame(frame);
      });
      await cdp.send("Page.startScreencast", {
        format: "jpeg",
        quality: 60,
        maxWidth: 1280,
        maxHeight: 1280,
      });
      if (!stream.watchers.size) await cdp.detach(); // the last watcher left while it started
      return cdp;
    } catch (err) {
      this.#log.warn("live view could not start", { session_id: id, error: err });
      return undefined;
    }
  }
}
