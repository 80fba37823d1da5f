/** The web console at `/`: log in (phone code or API key), start a flow, answer its prompts, see results. */

/** The console page: one HTML document using only the public REST API (long-poll), no build step. */
export const consolePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse console</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2733; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
section { border: 1px solid #d5dce3; border-radius: 6px; padding: .75rem 1rem; margin: .75rem 0; }
label { display: block; margin: .4rem 0; } input, select, textarea { padding: .3rem; font: inherit; }
textarea { width: 100%; min-height: 4rem; font-family: ui-monospace, monospace; font-size: .9rem; }
button { padding: .35rem .9rem; cursor: pointer; }
.muted { color: #66727f; font-size: .9rem; } .error { color: #a40e26; }
progress { width: 100%; } #prompt img { max-width: 320px; border: 1px solid #ccc; display: block; margin: .5rem 0; }
#log { font-family: ui-monospace, monospace; font-size: .8rem; max-height: 16rem; overflow: auto; background: #f5f7f9; padding: .5rem; }
table { border-collapse: collapse; } td, th { border: 1px solid #d5dce3; padding: .2rem .5rem; text-align: left; font-size: .9rem; }
</style>
</head>
<body>
<h1>gatehouse console</h1>
<p class="muted">Runs browser flows against the portals (the built-in <a href="/demo">demo portal</a> by default) and
lets you answer their prompts. Everything here uses the public API.</p>

<section id="auth">
  <h2>1. Sign in</h2>
  <div id="signed-in" hidden>Signed in as <b id="who"></b> <button id="signout">Sign out</button></div>
  <div id="signed-out">
    <form id="phone-form"><label>Phone <input name="phone" placeholder="+36201234567" required></label>
      <button>Send code</button> <span class="muted">(with the console SMS provider the code is printed on the server's stdout)</span></form>
    <form id="code-form" hidden><label>Code <input name="code" inputmode="numeric" required></label><button>Log in</button></form>
    <form id="key-form"><label>…or an admin API key <input name="key" type="password"></label><button>Use key</button></form>
    <p id="auth-error" class="error"></p>
  </div>
</section>

<section id="start" hidden>
  <h2>2. Start a flow</h2>
  <form id="start-form">
    <label>Flow <select name="flow" id="flow"></select></label>
    <p id="flow-description" class="muted"></p>
    <label>Input (JSON) <textarea name="input" id="input">{}</textarea></label>
    <button>Start session</button> <span id="start-error" class="error"></span>
  </form>
</section>

<section id="session" hidden>
  <h2>3. Session <code id="session-id"></code> <span id="status"></span></h2>
  <progress id="progress" max="100" value="0"></progress>
  <div id="prompt"></div>
  <div id="outcome"></div>
  <button id="cancel">Cancel</button>
  <h2>Events</h2>
  <div id="log"></div>
</section>

<script type="module">
const $ = (s) => document.querySelector(s);
let token = localStorage.getItem("gatehouse.token") || "";
let phone = "";
let current = null;

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (token) headers.authorization = "Bearer " + token;
  const res = await fetch(path, { ...options, headers });
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body.detail || body.title || res.statusText), { body, status: res.status });
  return body;
}

async function showAuth() {
  if (!token) { $("#signed-in").hidden = true; $("#signed-out").hidden = false; $("#start").hidden = true; return; }
  try {
    const me = await api("/api/v1/me").catch((e) => e.status === 403 ? { phone: "admin (API key)" } : Promise.reject(e));
    $("#who").textContent = me.phone;
    $("#signed-in").hidden = false; $("#signed-out").hidden = true;
    await loadFlows();
  } catch { token = ""; localStorage.removeItem("gatehouse.token"); showAuth(); }
}

$("#phone-form").onsubmit = async (e) => {
  e.preventDefault(); $("#auth-error").textContent = "";
  phone = e.target.phone.value;
  try { await api("/api/v1/otp/request", { method: "POST", body: JSON.stringify({ phone }) }); $("#code-form").hidden = false; }
  catch (err) { $("#auth-error").textContent = err.message; }
};
$("#code-form").onsubmit = async (e) => {
  e.preventDefault(); $("#auth-error").textContent = "";
  try {
    const pair = await api("/api/v1/otp/verify", { method: "POST", body: JSON.stringify({ phone, code: e.target.code.value }) });
    token = pair.access_token; localStorage.setItem("gatehouse.token", token); showAuth();
  } catch (err) { $("#auth-error").textContent = err.message + (err.body?.attempts_left !== undefined ? " (" + err.body.attempts_left + " tries left)" : ""); }
};
$("#key-form").onsubmit = (e) => { e.preventDefault(); token = e.target.key.value; localStorage.setItem("gatehouse.token", token); showAuth(); };
$("#signout").onclick = () => { token = ""; localStorage.removeItem("gatehouse.token"); showAuth(); };

const examples = {
  "vehicle-lookup": { plate: "ABC123" },
  "api-access": {},
  "exam-booking": { license_type: "B", exam_type: "driving", locations: ["Stockholm", "Uppsala"] },
};
let flows = [];
async function loadFlows() {
  try { flows = await api("/api/v1/flows"); } catch (err) { $("#start-error").textContent = err.message; return; }
  const list = Array.isArray(flows) ? flows : flows.flows || [];
  $("#flow").innerHTML = list.map((f) => '<option value="' + f.name + '">' + f.title + "</option>").join("");
  $("#start").hidden = false;
  const pick = () => {
    const f = list.find((x) => x.name === $("#flow").value);
    $("#flow-description").textContent = f ? f.description : "";
    $("#input").value = JSON.stringify(examples[f?.name] ?? {}, null, 1);
  };
  $("#flow").onchange = pick; pick();
}

$("#start-form").onsubmit = async (e) => {
  e.preventDefault(); $("#start-error").textContent = "";
  let input;
  try { input = JSON.parse($("#input").value || "{}"); } catch { $("#start-error").textContent = "Input is not valid JSON"; return; }
  try {
    const s = await api("/api/v1/sessions", { method: "POST", body: JSON.stringify({ flow: $("#flow").value, input }) });
    follow(s.id);
  } catch (err) {
    const fields = err.body?.errors ? ": " + err.body.errors.map((x) => x.field + " " + x.message).join(", ") : "";
    $("#start-error").textContent = err.message + fields;
  }
};

function esc(v) { return String(v).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";"); }

function renderPrompt(s) {
  const p = s.prompt;
  if (!p) { $("#prompt").innerHTML = ""; $("#prompt").dataset.id = ""; return; }
  if ($("#prompt").dataset.id === p.id) { const img = $("#prompt img"); if (img && p.image) img.src = p.image; return; }
  $("#prompt").dataset.id = p.id;
  let html = "<p><b>" + esc(p.message) + "</b></p>" + (p.error ? '<p class="error">' + esc(p.error) + "</p>" : "");
  if (p.image) html += '<img alt="' + esc(p.kind) + '" src="' + p.image + '">';
  if (p.kind === "qr") html += '<p class="muted">Scan it with the app (demo: <a href="#" id="approve">approve in the demo portal</a>).</p>';
  else {
    html += '<form id="answer">';
    if (p.options?.length) html += '<select name="value">' + p.options.map((o) => '<option value="' + esc(o.value) + '">' + esc(o.label) + "</option>").join("") + "</select>";
    else if (p.fields?.length) html += p.fields.map((f) => "<label>" + esc(f.label) + ' <input name="' + esc(f.name) + '" type="' + (f.type || "text") + '"></label>').join("");
    else html += '<input name="value" autocomplete="off" autofocus>';
    html += " <button>Send</button></form>";
  }
  $("#prompt").innerHTML = html;
  const approve = $("#approve");
  if (approve) approve.onclick = async (e) => { e.preventDefault(); await fetch("/demo/_debug/qr/approve", { method: "POST" }); };
  const form = $("#answer");
  if (form) form.onsubmit = async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const value = p.fields?.length && !p.options?.length ? data : data.value;
    try { await api("/api/v1/sessions/" + s.id + "/input", { method: "POST", body: JSON.stringify({ prompt: p.id, value }) }); }
    catch (err) { alert(err.message); }
  };
}

async function follow(id) {
  current = id;
  $("#session").hidden = false; $("#session-id").textContent = id; $("#log").innerHTML = ""; $("#outcome").innerHTML = "";
  $("#prompt").dataset.id = "";
  $("#cancel").onclick = () => api("/api/v1/sessions/" + id, { method: "DELETE" }).catch(() => {});
  let after = 0;
  while (current === id) {
    let s;
    try { s = await api("/api/v1/sessions/" + id + "?wait=25&after=" + after); } catch (err) { $("#outcome").textContent = err.message; return; }
    try {
      const events = await api("/api/v1/sessions/" + id + "/events?after=" + after);
      for (const ev of events.events || events) {
        if (ev.type === "image") continue;
        const line = document.createElement("div");
        line.textContent = ev.seq + " " + ev.type + " " + JSON.stringify(ev.data ?? ev).slice(0, 300);
        $("#log").append(line);
      }
    } catch { /* the log is best-effort */ }
    after = s.seq ?? after;
    $("#status").textContent = s.status;
    if (typeof s.progress === "number") $("#progress").value = s.progress;
    else if (s.progress?.percentage !== undefined) $("#progress").value = s.progress.percentage;
    renderPrompt(s);
    if (["succeeded", "failed", "cancelled", "expired"].includes(s.status)) {
      $("#outcome").innerHTML = s.error ? '<p class="error">' + esc(s.error.message || JSON.stringify(s.error)) + "</p>"
        : "<pre>" + esc(JSON.stringify(s.result, null, 2)) + "</pre>";
      return;
    }
  }
}

showAuth();
</script>
</body>
</html>
`;
