/**
 * A real Kannel for tests: bearerbox and smsbox (Debian package `kannel`) with Kannel's own fake SMSC,
 * `fakesmsc` (package `kannel-extras`), all on free 127.0.0.1 ports with a config generated in a temporary
 * folder. Messages gatehouse sends through smsbox's `sendsms` reach fakesmsc, which prints each one as
 * `Got message N: <from to type data>`; `nextMessage()` reads them back. `close()` kills every process it
 * started and deletes the folder.
 */

/** Where the three programs are. */
export interface KannelBinaries {
  bearerbox: string;
  smsbox: string;
  fakesmsc: string;
}

const CANDIDATES: Record<keyof KannelBinaries, string[]> = {
  bearerbox: ["/usr/sbin/bearerbox", "/usr/local/sbin/bearerbox"],
  smsbox: ["/usr/sbin/smsbox", "/usr/local/sbin/smsbox"],
  fakesmsc: ["/usr/lib/kannel/test/fakesmsc", "/usr/local/lib/kannel/test/fakesmsc"],
};

/** Finds the Kannel programs on PATH or where Debian installs them; `missing` names those not found. */
export function findKannel(): { binaries?: KannelBinaries; missing: string[] } {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const found: Partial<KannelBinaries> = {};
  for (const name of Object.keys(CANDIDATES) as (keyof KannelBinaries)[]) {
    found[name] = [...path.map((dir) => `${dir}/${name}`), ...CANDIDATES[name]].find(isExecutable);
  }
  const missing = Object.entries(found).filter(([, p]) => !p).map(([name]) => name);
  return missing.length ? { missing } : { binaries: found as KannelBinaries, missing };
}

function isExecutable(file: string): boolean {
  try {
    const info = Deno.statSync(file);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** One message as fakesmsc printed it, its data decoded. */
export interface SmscMessage {
  from: string;
  to: string;
  /** Kannel's name for the coding: `text` (GSM 7-bit), `ucs-2`, `data`, … */
  type: string;
  text: string;
}

/** Percent-decodes Kannel's url-encoding (`+` is a space) into bytes. */
function urlDecodeBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s[i] === "+" ? 0x20 : s.charCodeAt(i));
  }
  return new Uint8Array(out);
}

/** Reads fakesmsc's `<from to type data>`: `ucs-2` data is url-encoded UTF-16BE, `text` is as it is. */
export function parseSmscLine(line: string): SmscMessage | null {
  const m = /Got message \d+: <(\S+) (\S+) (\S+) (.*)>$/.exec(line);
  if (!m) return null;
  const [, from, to, type, data] = m;
  const text = type === "ucs-2" ? new TextDecoder("utf-16be").decode(urlDecodeBytes(data)) : data;
  return { from, to, type, text };
}

/** A child process whose output is kept (the last lines) for failure messages. */
class Child {
  readonly output: string[] = [];
  readonly #process: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  #onLine?: (line: string) => void;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    cwd: string,
    onLine?: (line: string) => void,
  ) {
    this.#onLine = onLine;
    this.#process = new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
    this.#pumps = [this.#pump(this.#process.stdout), this.#pump(this.#process.stderr)];
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) this.#line(line);
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.output.push(line);
    if (this.output.length > 200) this.output.shift();
    this.#onLine?.(line);
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s; waits for the exit and the end of its output. */
  async stop(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      this.#process.kill("SIGTERM");
    } catch { /* already exited */ }
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.#process.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
        resolve();
      }, 5000);
    });
    await Promise.race([this.#process.status, killed]);
    await this.#process.status;
    clearTimeout(timer);
    await Promise.all(this.#pumps);
  }
}

/** Free TCP ports on 127.0.0.1, distinct from one another (held open together while chosen). */
function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** A running Kannel with its fake SMSC. */
export class Kannel implements AsyncDisposable {
  /** smsbox's sendsms URL, for KANNEL_URL. */
  readonly sendsmsUrl: string;
  readonly user = "gatehouse";
  readonly password = "kannel-test-password";
  readonly #dir: string;
  readonly #ports: { admin: number; smsbox: number; smsc: number; sendsms: number };
  readonly #children: Child[] = [];
  readonly #messages: SmscMessage[] = [];
  #wake?: () => void;

  private constructor(dir: string) {
    this.#dir = dir;
    const [admin, smsbox, smsc, sendsms] = freePorts(4);
    this.#ports = { admin, smsbox, smsc, sendsms };
    this.sendsmsUrl = `http://127.0.0.1:${sendsms}/cgi-bin/sendsms`;
  }

  /** Starts bearerbox, fakesmsc and smsbox, and waits until sendsms answers and the SMSC is online. */
  static async start(bin: KannelBinaries, options: { timeoutMs?: number } = {}): Promise<Kannel> {
    const k = new Kannel(await Deno.makeTempDir({ prefix: "gatehouse-kannel-" }));
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    try {
      const conf = `${k.#dir}/kannel.conf`;
      await Deno.writeTextFile(conf, k.#config());
      k.#children.push(new Child("bearerbox", bin.bearerbox, ["-v", "1", conf], k.#dir));
      await k.#until(deadline, "bearerbox's admin port", async () => (await k.#status()) !== null);
      const fake = new Child(
        "fakesmsc",
        bin.fakesmsc,
        // -m 0: send no mobile-originated messages, only print what arrives.
        ["-H", "127.0.0.1", "-r", String(k.#ports.smsc), "-m", "0", "1 2 text nop"],
        k.#dir,
        (line) => {
          const msg = parseSmscLine(line);
          if (!msg) return;
          k.#messages.push(msg);
          k.#wake?.();
        },
      );
      k.#children.push(fake);
      k.#children.push(new Child("smsbox", bin.smsbox, ["-v", "1", conf], k.#dir));
      await k.#until(deadline, "the fake SMSC online and smsbox connected", async () => {
        const status = await k.#status();
        return !!status && /FAKE\[FAKE\].*\(online/.test(status) && /smsbox:.*on-line/.test(status);
      });
      await k.#until(deadline, "smsbox's sendsms port", async () => {
        const res = await fetch(k.sendsmsUrl, { signal: AbortSignal.timeout(1000) }).catch(() => null);
        await res?.body?.cancel();
        return res !== null;
      });
      return k;
    } catch (err) {
      const logs = k.logs();
      await k.close();
      throw new Error(`Cannot start Kannel: ${(err as Error).message}\n${logs}`);
    }
  }

  #config(): string {
    const p = this.#ports;
    return [
      "group = core",
      `admin-port = ${p.admin}`,
      "admin-interface = 127.0.0.1",
      "admin-password = admin-test-password",
      "admin-allow-ip = 127.0.0.1",
      `smsbox-port = ${p.smsbox}`,
      "smsbox-interface = 127.0.0.1",
      "box-allow-ip = 127.0.0.1",
      "log-level = 1",
      "",
      "group = smsc",
      "smsc = fake",
      "smsc-id = FAKE",
      `port = ${p.smsc}`,
      "connect-allow-ip = 127.0.0.1",
      "",
      "group = smsbox",
      "bearerbox-host = 127.0.0.1",
      `bearerbox-port = ${p.smsbox}`,
      `sendsms-port = ${p.sendsms}`,
      "sendsms-interface = 127.0.0.1",
      "global-sender = 12345",
      "log-level = 1",
      "",
      "group = sendsms-user",
      `username = ${this.user}`,
      `password = ${this.password}`,
      "",
    ].join("\n");
  }

  async #status(): Promise<string | null> {
    try {
      const res = await fetch(
        `http://127.0.0.1:${this.#ports.admin}/status.txt?password=admin-test-password`,
        { signal: AbortSignal.timeout(1000) },
      );
      const text = await res.text();
      return res.ok ? text : null;
    } catch {
      return null;
    }
  }

  async #until(deadline: number, what: string, ready: () => Promise<boolean>): Promise<void> {
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      const exited = this.#children.find((c) => c.output.some((l) => /PANIC:/.test(l)));
      if (exited) throw new Error(`${exited.name} panicked`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The next message fakesmsc received (in arrival order), or a rejection after `timeoutMs`. */
  async nextMessage(timeoutMs = 15_000): Promise<SmscMessage> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#messages.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fakesmsc received no message within ${timeoutMs} ms\n${this.logs()}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return this.#messages.shift()!;
  }

  /** The last lines each process printed, for failure messages. */
  logs(): string {
    return this.#children.map((c) => `---- ${c.name}\n${c.output.slice(-40).join("\n")}`).join("\n");
  }

  /** Stops smsbox, fakesmsc and bearerbox (in that order) and deletes the temporary folder. */
  async close(): Promise<void> {
    for (const child of this.#children.splice(0).reverse()) await child.stop();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
