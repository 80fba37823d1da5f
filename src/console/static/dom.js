// Tiny DOM helpers: elements are built with textContent, never from HTML strings.

/** `document.querySelector`. */
export const $ = (s, root = document) => root.querySelector(s);

/** Creates `<tag attrs>children</tag>`; strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** Words from a key: "error_step" → "Error step". */
export const human = (key) => String(key).replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase());
