// The shared page layout of the demo portals: plain server-rendered HTML, no client framework.

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/** `<p class="error">message</p>` when there is a message, otherwise nothing. */
export function errorParagraph(message: string | undefined, id?: string): string {
  if (!message) return "";
  const idAttribute = id ? ` id="${escapeHtml(id)}"` : "";
  return `<p class="error"${idAttribute}>${escapeHtml(message)}</p>`;
}

/** A complete HTML document around `body`; `title` is plain text. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #1d2733; }
label { display: block; margin: .5rem 0; }
input[type=text], input[type=password], select { padding: .35rem; min-width: 14rem; }
button { padding: .4rem 1rem; cursor: pointer; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; min-width: 24rem; }
th, td { border: 1px solid #c8d0d8; padding: .3rem .6rem; text-align: left; }
th { background: #eef2f5; font-weight: 600; }
.error { color: #a40e26; background: #fde8ec; padding: .5rem .75rem; border-radius: 4px; }
.slot { margin: .4rem 0; }
.slot form { display: inline; margin-left: 1rem; }
.inspection-photo { width: 320px; height: 240px; margin: 0 .5rem .5rem 0; border: 1px solid #c8d0d8; }
#qr svg { width: 256px; height: 256px; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
