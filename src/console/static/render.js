// Results as tables, artifacts inline (images) or as downloads, failures naming their step.
import { api, bearer, sessionPath } from "./api.js";
import { el, human } from "./dom.js";

const isPlain = (v) => v === null || typeof v !== "object";
const text = (
  v,
) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** A readable rendering of a flow's JSON result: objects as key/value tables, arrays of objects as tables. */
export function resultView(value, images = new Map()) {
  if (isPlain(value)) return el("p", {}, images.has(value) ? imageOf(value, images) : text(value));
  if (Array.isArray(value)) {
    if (!value.length) return el("p", { class: "hint" }, "None.");
    if (value.every(isPlain)) {
      const shown = value.filter((v) => images.has(v));
      if (shown.length === value.length) {
        return el(
          "div",
          { class: "artifacts" },
          ...shown.map((v) => imageOf(v, images)),
        );
      }
      return el("ul", {}, ...value.map((v) => el("li", {}, text(v))));
    }
    const cols = [
      ...new Set(value.flatMap((row) => (row && typeof row === "object" ? Object.keys(row) : []))),
    ];
    return el(
      "div",
      { class: "scroll-x" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, human(c))))),
        el(
          "tbody",
          {},
          ...value.map((row) => el("tr", {}, ...cols.map((c) => el("td", {}, text(row?.[c]))))),
        ),
      ),
    );
  }
  if (!Object.keys(value).length) return el("p", { class: "hint" }, "None.");
  const rows = [];
  const nested = [];
  for (const [k, v] of Object.entries(value)) {
    if (isPlain(v) || (Array.isArray(v) && v.every(isPlain) && !v.some((x) => images.has(x)))) {
      rows.push(
        el(
          "tr",
          {},
          el("th", { scope: "row" }, human(k)),
          el("td", {}, Array.isArray(v) ? v.join(", ") || "—" : text(v)),
        ),
      );
    } else nested.push(el("h3", {}, human(k)), resultView(v, images));
  }
  return el("div", {}, rows.length ? el("table", { class: "kv" }, el("tbody", {}, ...rows)) : "", ...nested);
}

function imageOf(name, images) {
  return el(
    "figure",
    {},
    el("img", { src: images.get(name), alt: name, loading: "lazy" }),
    el("figcaption", {}, name),
  );
}

/**
 * Fetches the artifacts of session `id` with the bearer token (an <img src> cannot send it); returns
 * their object URLs by name and the list element of those `shown` leaves out (images inline, others as
 * downloads), or null when nothing is left to list.
 */
export async function loadArtifacts(id, shown = () => false) {
  const { artifacts } = await api(`${sessionPath(id)}/artifacts`);
  const urls = new Map();
  const items = [];
  for (const a of artifacts) {
    const res = await fetch(`${sessionPath(id)}/artifacts/${encodeURIComponent(a.name)}`, {
      headers: { authorization: "Bearer " + bearer() },
    });
    if (!res.ok) continue;
    const url = URL.createObjectURL(await res.blob());
    urls.set(a.name, url);
    if (shown(a.name)) continue;
    const size = a.size > 1024 ? Math.round(a.size / 1024) + " KiB" : a.size + " B";
    items.push(
      el(
        "li",
        {},
        el(
          "figure",
          {},
          a.content_type.startsWith("image/") ? el("img", { src: url, alt: a.name }) : "",
          el("figcaption", {}, el("a", { href: url, download: a.name }, a.name), " · " + size),
        ),
      ),
    );
  }
  const list = items.length
    ? el("div", {}, el("h3", {}, "Files"), el("ul", { class: "artifacts" }, ...items))
    : null;
  return { urls, list };
}

/** Every string in a JSON value (to tell which artifacts a result names). */
export function stringsIn(value, out = new Set()) {
  if (typeof value === "string") out.add(value);
  else if (value && typeof value === "object") { for (const v of Object.values(value)) stringsIn(v, out); }
  return out;
}

/** The failure box: what went wrong and at which step. */
export function failureView(status, error, step) {
  const title = status === "cancelled" ? "Cancelled" : status === "expired" ? "Expired" : "Failed";
  return el(
    "div",
    { class: "failure", role: "alert" },
    el(
      "p",
      {},
      el("b", {}, title + (step ? ` at step “${human(step)}”` : "")),
      error ? ": " + error : status === "cancelled" ? ": the session was cancelled." : "",
    ),
  );
}
