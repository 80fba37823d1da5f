/** The temporary Chromium profile folders of the pool: made per launch, removed after, swept at start. */
import type { Logger } from "../log.ts";

/** Removes `path` and everything under it (retrying while Chromium may still be flushing files). */
export async function removeDir(path: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      await new Promise((r) => setTimeout(r, 100)); // Chromium may still be flushing files
    }
  }
}

/** Profile folders this pool makes in the temp dir. */
export const PROFILE_PREFIX = "gatehouse-chrome-";

/**
 * Removes profile folders that a killed server left behind: their Chromium's `SingletonLock` names a process
 * that is gone (or, with no lock, the folder is over 10 minutes old). Profiles of live browsers stay.
 */
export async function removeStaleProfiles(log: Logger, tmpDir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(tmpDir)) {
      if (!entry.isDirectory || !entry.name.startsWith(PROFILE_PREFIX)) continue;
      const dir = `${tmpDir}/${entry.name}`;
      if (await profileInUse(dir)) continue;
      await removeDir(dir);
      removed++;
    }
  } catch (err) {
    log.warn("sweeping stale browser profiles failed", { error: err });
  }
  if (removed) log.info("stale browser profiles removed", { count: removed });
  return removed;
}

async function profileInUse(dir: string): Promise<boolean> {
  try {
    const owner = await Deno.readLink(`${dir}/SingletonLock`); // "<hostname>-<pid>"
    const pid = Number(owner.slice(owner.lastIndexOf("-") + 1));
    return Number.isInteger(pid) && pid > 0 && (await exists(`/proc/${pid}`));
  } catch {
    const info = await Deno.stat(dir).catch(() => null);
    return !!info?.mtime && Date.now() - info.mtime.getTime() < 10 * 60_000;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
