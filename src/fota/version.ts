/**
 * Firmware version strings: parse, order and canonicalise, always on the server.
 *
 * Accepted forms (a lenient superset of SemVer 2.0.0, https://semver.org):
 *   [v|V] N(.N)* [-pre.release.ids] [+build.meta]
 * so `1.2.3`, `v1.2.3-beta.1+b7`, `1.10`, `2024.06.01` and `3.9.12-SNAPSHOT-692c8fc` all parse.
 * Ordering: numeric segments compare as integers of any length, a missing segment counts as 0
 * (`1.2` == `1.2.0`, `1.10.0` > `1.9.2`); then pre-releases per SemVer §11 (`1.2.0-beta.1` <
 * `1.2.0`); build metadata is ignored (`1.2.0+a` == `1.2.0+b`). When both sides are strict SemVer
 * this is exactly SemVer precedence; when both are dotted numbers it is segment-wise numeric order;
 * mixed forms compare segment by segment the same way.
 */

/** A parsed version. */
export interface Version {
  /** The string as given, trimmed. */
  raw: string;
  /** Release segments as digit strings without leading zeros, e.g. `["1", "10", "0"]`. */
  segments: string[];
  /** Pre-release identifiers (numeric ones without leading zeros); empty for a release. */
  prerelease: string[];
  /** Build metadata, kept for display only. */
  build: string | null;
}

/** Longest version string accepted anywhere. */
export const MAX_VERSION_LENGTH = 64;

const IDS = "[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*";
const PATTERN = new RegExp(`^[vV]?(\\d+(?:\\.\\d+)*)(?:-(${IDS}))?(?:\\+(${IDS}))?$`);
const NUMERIC = /^\d+$/;

function stripZeros(digits: string): string {
  const s = digits.replace(/^0+/, "");
  return s === "" ? "0" : s;
}

/** Parses `input`, or returns null when it is not a version this server can order. */
export function parseVersion(input: string): Version | null {
  const raw = input.trim();
  if (raw.length === 0 || raw.length > MAX_VERSION_LENGTH) return null;
  const m = PATTERN.exec(raw);
  if (!m) return null;
  return {
    raw,
    segments: m[1].split(".").map(stripZeros),
    prerelease: m[2] ? m[2].split(".").map((id) => NUMERIC.test(id) ? stripZeros(id) : id) : [],
    build: m[3] ?? null,
  };
}

/**
 * Reads the firmware string a device reported. A string that parses as a version is taken as it is, so a
 * pattern can never make a version-like report compare lower than it is (and so be offered a downgrade).
 * Any other string is matched against `pattern` (FOTA_VERSION_PATTERN): the capture groups that matched,
 * joined with `.`, must parse as a version, e.g. `^GT06_V(\d+(?:\.\d+)*)_(\d{8})$` reads
 * `GT06_V2.0_20200101` as 2.0.20200101. `raw` stays the string as reported. Null when nothing applies.
 */
export function parseReportedVersion(input: string, pattern?: RegExp): Version | null {
  const direct = parseVersion(input);
  if (direct || !pattern) return direct;
  const raw = input.trim();
  const m = pattern.exec(raw);
  if (!m) return null;
  const extracted = parseVersion(m.slice(1).filter(Boolean).join("."));
  return extracted && { ...extracted, raw };
}

/** True when `input` parses as a version. */
export function isVersion(input: string): boolean {
  return parseVersion(input) !== null;
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifiers(a: string, b: string): number {
  const an = NUMERIC.test(a), bn = NUMERIC.test(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? -1 : 1; // numeric identifiers sort before alphanumeric ones
  return a < b ? -1 : a > b ? 1 : 0; // ASCII order
}

/** Orders two versions: negative when `a` < `b`, 0 when equal (build metadata ignored), positive otherwise. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const c = compareDigits(a.segments[i] ?? "0", b.segments[i] ?? "0");
    if (c !== 0) return c;
  }
  const ap = a.prerelease, bp = b.prerelease;
  if (ap.length === 0 || bp.length === 0) {
    // A release sorts after any of its pre-releases.
    return ap.length === bp.length ? 0 : ap.length === 0 ? 1 : -1;
  }
  for (let i = 0; i < Math.min(ap.length, bp.length); i++) {
    const c = compareIdentifiers(ap[i], bp[i]);
    if (c !== 0) return c;
  }
  return ap.length === bp.length ? 0 : ap.length < bp.length ? -1 : 1;
}

/** Parses and orders two version strings; throws on a string that does not parse. */
export function compareVersionStrings(a: string, b: string): number {
  const pa = parseVersion(a), pb = parseVersion(b);
  if (!pa) throw new TypeError(`Cannot compare versions: "${a}" is not a version`);
  if (!pb) throw new TypeError(`Cannot compare versions: "${b}" is not a version`);
  return compareVersions(pa, pb);
}

const len2 = (s: string) => String(s.length).padStart(2, "0");

/**
 * A string whose byte order (`COLLATE "C"`) is `compareVersions` order, so the database can keep only
 * releases newer than a device's. Segments (trailing zeros dropped) are `<2-digit length><digits>`,
 * closed by `.` (below any digit, so `1.2` < `1.2.1`); then `~` for a release, or `-` and the
 * pre-release identifiers: numeric as `#<2-digit length><digits>`, alphanumeric as `$<id>`.
 * `#` < `$` puts numeric identifiers first, and both sort below every identifier character
 * (`[0-9A-Za-z-]`), so they also end the identifier before them (`ab` < `abc`, `a` < `a-1`); a shorter
 * list is a prefix, so lower. `-` < `~`, so a pre-release sorts below its release.
 */
export function versionSortKey(v: Version): string {
  const segs = [...v.segments];
  while (segs.length > 1 && segs[segs.length - 1] === "0") segs.pop();
  const head = segs.map((s) => len2(s) + s).join("") + ".";
  if (!v.prerelease.length) return `${head}~`;
  return `${head}-${v.prerelease.map((id) => NUMERIC.test(id) ? `#${len2(id)}${id}` : `$${id}`).join("")}`;
}

/**
 * The canonical form: equal keys exactly when `compareVersions` says equal
 * (`v1.2.0+b7`, `1.2` and `1.2.0` all give `1.2`). Used for uniqueness and for matching reports.
 */
export function versionKey(v: Version): string {
  const segs = [...v.segments];
  while (segs.length > 1 && segs[segs.length - 1] === "0") segs.pop();
  return segs.join(".") + (v.prerelease.length ? `-${v.prerelease.join(".")}` : "");
}
