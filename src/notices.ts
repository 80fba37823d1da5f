/** Reading the payloads other instances send over Postgres LISTEN/NOTIFY. */

/** A notice's payload as an object with (some of) `T`'s fields, or null when it is not a JSON object. */
export function readNotice<T>(payload: string): Partial<T> | null {
  try {
    const value = JSON.parse(payload);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
