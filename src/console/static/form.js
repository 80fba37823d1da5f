// A form from a flow's input JSON Schema: required fields, enums as selects, booleans as checkboxes,
// arrays of strings as one-per-line text areas, secret-looking fields as password inputs.
import { el } from "./dom.js";

const SECRET = /pass|secret|token|pin/i;
const EXAMPLES = {
  plate: "ABC123",
  license_type: "B",
  exam_type: "driving",
  locations: "Stockholm\nUppsala",
};

/** Fills `fieldset` with one labelled control per property of `schema`. */
export function buildForm(fieldset, schema) {
  fieldset.querySelectorAll(":scope > :not(legend)").forEach((n) => n.remove());
  const required = new Set(schema?.required || []);
  const props = Object.entries(schema?.properties || {});
  if (!props.length) fieldset.append(el("p", { class: "hint" }, "This flow needs no input."));
  for (const [name, prop] of props) {
    const id = "in-" + name;
    const title = (prop.title || name.replace(/_/g, " ")).replace(/^./, (c) => c.toUpperCase());
    const req = required.has(name);
    const label = el("label", { for: id }, title + (req ? "" : " (optional)"));
    let control;
    if (prop.enum) {
      control = el(
        "select",
        { id, name },
        ...(req ? [] : [el("option", { value: "" }, "—")]),
        ...prop.enum.map((v) => el("option", { value: v }, String(v))),
      );
    } else if (prop.type === "boolean") {
      control = el("input", { id, name, type: "checkbox" });
      fieldset.append(el("label", { class: "check" }, control, " " + title));
      continue;
    } else if (prop.type === "array") {
      control = el("textarea", {
        id,
        name,
        rows: "3",
        "data-kind": "lines",
        "aria-describedby": id + "-hint",
      });
      control.value = EXAMPLES[name] || "";
      fieldset.append(label, control, el("p", { class: "hint", id: id + "-hint" }, "One per line."));
      if (req) control.required = true;
      continue;
    } else {
      const type = prop.type === "number" || prop.type === "integer"
        ? "number"
        : SECRET.test(name)
        ? "password"
        : "text";
      control = el("input", { id, name, type, autocomplete: type === "password" ? "off" : "on" });
      if (EXAMPLES[name] && type !== "password") control.value = EXAMPLES[name];
    }
    if (req) control.required = true;
    if (prop.description) control.title = prop.description;
    fieldset.append(label, control);
  }
}

/** The input object the form describes (empty optional fields left out). */
export function readForm(fieldset, schema) {
  const out = {};
  for (const [name, prop] of Object.entries(schema?.properties || {})) {
    const c = fieldset.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!c) continue;
    if (prop.type === "boolean") {
      if (c.checked) out[name] = true;
    } else if (c.dataset.kind === "lines") {
      const items = c.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (items.length) out[name] = items;
    } else if (c.value !== "") {
      out[name] = prop.type === "number" || prop.type === "integer" ? Number(c.value) : c.value;
    }
  }
  return out;
}
