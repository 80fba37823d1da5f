/** The web console's static files (src/console/static/): read once, served with content types and ETags. */

/** One static file of the console. */
export interface ConsoleAsset {
  body: Uint8Array;
  contentType: string;
  /** Strong ETag: the SHA-256 of the body. */
  etag: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

const DIR = new URL("./static/", import.meta.url);

/** Reads every console file (names are flat: index.html, app.js, …). */
export async function loadConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  const assets = new Map<string, ConsoleAsset>();
  for await (const entry of Deno.readDir(DIR)) {
    const ext = entry.name.split(".").pop() ?? "";
    if (!entry.isFile || !TYPES[ext]) continue;
    const body = await Deno.readFile(new URL(entry.name, DIR));
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const etag = `"${Array.from(hash.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
    assets.set(entry.name, { body, contentType: TYPES[ext], etag });
  }
  return assets;
}
