// The console: sign in, start a flow from a form built from its schema, follow sessions live.
import { api, followSession, getToken, isGuest, sessionPath, setGuest, setToken } from "./api.js";
import { $, el, human } from "./dom.js";
import { buildForm, readForm } from "./form.js";
import { liveView } from "./live.js";
import { renderPrompt } from "./prompt.js";
import { failureView, loadArtifacts, resultView, stringsIn } from "./render.js";

const FINAL = ["succeeded", "failed", "cancelled", "expired"];
const settings = await fetch("/console/settings.json").then((r) => r.json()).catch(() => ({}));
let me = null;
let flows = [];
let leave = () => {}; // closes what the current page opened

function show(id) {
  for (const s of ["auth", "home", "session"]) $("#" + s).hidden = s !== id;
}
function banner(message) {
  $("#banner").textContent = message || "";
  $("#banner").hidden = !message;
}

// ------------------------------------------------------------------ sign in

async function whoAmI() {
  if (!getToken()) return null;
  try {
    const user = await api("/api/v1/me");
    return { label: user.phone, admin: false };
  } catch (err) {
    if (err.status === 403) return { label: "admin (API key)", admin: true }; // keys have no /me
    setToken("");
    throw err;
  }
}

$("#phone-form").onsubmit = async (e) => {
  e.preventDefault();
  $("#auth-error").textContent = "";
  try {
    await api("/api/v1/otp/request", { method: "POST", body: JSON.stringify({ phone: $("#phone").value }) });
    $("#code-form").hidden = false;
    $("#code").focus();
  } catch (err) {
    $("#auth-error").textContent = err.message;
  }
};
$("#code-form").onsubmit = async (e) => {
  e.preventDefault();
  $("#auth-error").textContent = "";
  try {
    const pair = await api("/api/v1/otp/verify", {
      method: "POST",
      body: JSON.stringify({ phone: $("#phone").value, code: $("#code").value }),
    });
    setToken(pair.access_token);
    route();
  } catch (err) {
    const left = err.body?.attempts_left;
    $("#auth-error").textContent = err.message + (left !== undefined ? ` (${left} tries left)` : "");
  }
};
$("#key-form").onsubmit = (e) => {
  e.preventDefault();
  setToken($("#key").value);
  $("#key").value = "";
  route();
};
$("#signout").onclick = () => {
  setToken("");
  me = null;
  location.hash = "#/";
  route();
};

// ------------------------------------------------------------------ home: start form and sessions list

async function home() {
  show("home");
  if (!flows.length) {
    try {
      flows = (await api("/api/v1/flows")).flows;
    } catch (err) {
      $("#start-error").textContent = err.message;
    }
    $("#flow").replaceChildren(...flows.map((f) => el("option", { value: f.name }, f.title)));
    pickFlow();
  }
  let stop = false;
  const refresh = async () => {
    if (stop) return;
    try {
      renderList((await api("/api/v1/sessions?limit=50")).sessions);
    } catch { /* the next tick retries */ }
  };
  await refresh();
  const timer = setInterval(refresh, 3000); // no list socket exists; 3 s keeps it current
  const onFocus = () => refresh();
  addEventListener("focus", onFocus);
  leave = () => {
    stop = true;
    clearInterval(timer);
    removeEventListener("focus", onFocus);
  };
}

function renderList(list) {
  $("#sessions-empty").hidden = list.length > 0;
  $("#sessions").hidden = list.length === 0;
  $("#sessions tbody").replaceChildren(
    ...list.map((s) =>
      el(
        "tr",
        { "data-id": s.id },
        el("td", {}, el("a", { href: "#/s/" + s.id }, flows.find((f) => f.name === s.flow)?.title || s.flow)),
        el(
          "td",
          {},
          el("span", { class: "badge " + s.status }, s.status),
          s.status === "waiting" ? " needs you" : "",
        ),
        el("td", {}, new Date(s.created_at).toLocaleString()),
      )
    ),
  );
}

const currentFlow = () => flows.find((f) => f.name === $("#flow").value);
function pickFlow() {
  const f = currentFlow();
  $("#flow-description").textContent = f?.description || "";
  buildForm($("#fields"), f?.input_schema);
}
$("#flow").onchange = pickFlow;
$("#start-form").onsubmit = async (e) => {
  e.preventDefault();
  $("#start-error").textContent = "";
  const form = e.target;
  if (!form.checkValidity()) {
    form.reportValidity();
    return;
  }
  const f = currentFlow();
  try {
    const s = await api("/api/v1/sessions", {
      method: "POST",
      body: JSON.stringify({ flow: f.name, input: readForm($("#fields"), f.input_schema) }),
    });
    location.hash = "#/s/" + s.id;
  } catch (err) {
    $("#start-error").textContent = err.message;
  }
};

// ------------------------------------------------------------------ one session

async function sessionPage(id) {
  show("session");
  const guest = isGuest();
  for (const s of ["#back", "#share", "#control-label", "#control-hint"]) $(s).hidden = guest;
  $("#share-out").hidden = true;
  const state = { id, view: null, promptId: "", frames: 0, artifacts: null };
  $("#session-id").textContent = id;
  $("#log").replaceChildren();
  $("#event-count").textContent = "0";
  for (const s of ["#prompt", "#outcome", "#artifacts", "#step"]) $(s).replaceChildren();
  let view;
  try {
    view = await api(sessionPath(id));
  } catch (err) {
    $("#connection").textContent = "";
    $("#outcome").replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    leave = () => {};
    return;
  }
  state.view = view;
  $("#session-flow").textContent = flows.find((f) => f.name === view.flow)?.title || view.flow;
  renderStatus(state);
  renderPrompt(state, settings);
  if (FINAL.includes(view.status)) await renderEnd(state);
  const follower = followSession(id, {
    after: 0,
    onEvent: (msg) => onEvent(state, msg),
    onMessage: (msg) => live.message(msg),
    onState: (s, seq, err) => {
      $("#connection").textContent = {
        live: "Live over WebSocket",
        reattached: `Connection dropped; re-attached after event ${seq}`,
        reconnecting: `Connection lost; re-attaching after event ${seq}…`,
        polling: "WebSocket unavailable; following by long-poll" + (err ? ` (${err.message})` : ""),
      }[s];
      document.body.dataset.connection = s;
      if (s === "reattached") live.reattached();
    },
  });
  const live = liveView({ send: (m) => follower.send(m), canControl: !guest });
  $("#share").onclick = async () => {
    try {
      const { url, expires_in } = await api(`/api/v1/sessions/${id}/share`, { method: "POST" });
      $("#share-url").textContent = $("#share-url").href = url;
      $("#share-ttl").textContent = String(Math.round(expires_in / 60));
      $("#share-out").hidden = false;
    } catch (err) {
      banner(err.message);
    }
  };
  $("#cancel").onclick = async () => {
    $("#cancel").disabled = true;
    try {
      await api("/api/v1/sessions/" + id, { method: "DELETE" });
    } catch (err) {
      banner(err.message);
    }
  };
  globalThis.gatehouseConsole = { drop: () => follower.drop() }; // lets a person (or a test) try a lost connection
  leave = () => {
    follower.close();
    live.close();
  };
}

function logLine(msg) {
  const { type, seq, at: _at, ...data } = msg;
  if (type === "image") return;
  const detail = type === "prompt" ? data.prompt.message : JSON.stringify(data).slice(0, 200);
  $("#log").append(el("li", { value: String(seq), "data-seq": String(seq) }, `${type} ${detail}`));
  $("#event-count").textContent = String($("#log").children.length);
}

async function onEvent(state, msg) {
  logLine(msg);
  const v = state.view;
  if (msg.type !== "image" && msg.seq <= v.seq) return; // already in the view we loaded
  if (msg.type !== "image") v.seq = msg.seq;
  switch (msg.type) {
    case "status":
      v.status = msg.status;
      if (msg.error) v.error = msg.error;
      if (v.status === "running" || FINAL.includes(v.status)) v.prompt = null;
      break;
    case "progress":
      v.progress = msg.percentage;
      if (msg.key) {
        $("#step").textContent = `${human(msg.key)}: ${
          typeof msg.value === "object" ? JSON.stringify(msg.value) : msg.value
        }`;
      }
      break;
    case "prompt":
      v.prompt = msg.prompt;
      break;
    case "image":
      if (v.prompt?.id === msg.prompt) v.prompt = { ...v.prompt, image: msg.image };
      break;
    case "answer":
    case "prompt_closed":
      v.prompt = null;
      break;
    case "result":
      v.result = msg.result;
      break;
    case "error":
      v.error = msg.message;
      v.error_step = msg.step || null;
      break;
  }
  renderStatus(state);
  renderPrompt(state, settings);
  if (msg.type === "status" && FINAL.includes(msg.status)) {
    $("#step").textContent = "";
    await renderEnd(state);
  }
}

function renderStatus({ view }) {
  $("#status").textContent = view.status;
  $("#status").className = "badge " + view.status;
  const pct = view.status === "succeeded" ? 100 : view.progress;
  $("#progress").value = pct;
  $("#progress-text").textContent = pct + "%";
  $("#cancel").hidden = isGuest() || FINAL.includes(view.status);
  $("#cancel").disabled = false;
}

async function renderEnd(state) {
  const v = state.view;
  if (state.ended) return;
  state.ended = true;
  if (v.status !== "succeeded") $("#outcome").replaceChildren(failureView(v.status, v.error, v.error_step));
  let urls = new Map();
  try {
    const named = v.status === "succeeded" ? stringsIn(v.result) : new Set();
    const got = await loadArtifacts(state.id, (name) => named.has(name)); // images the result names show there
    urls = got.urls;
    $("#artifacts").replaceChildren(...(got.list ? [got.list] : []));
  } catch { /* no artifacts to show */ }
  if (v.status === "succeeded") {
    $("#outcome").replaceChildren(el("h3", {}, "Result"), resultView(v.result, urls));
  }
}

// ------------------------------------------------------------------ routing

async function route() {
  leave();
  leave = () => {};
  banner("");
  // A share link: burn it for a guest token (memory only), and take it out of the address bar.
  const share = location.hash.match(/^#\/share\/([\w-]{20,200})$/);
  if (share) {
    try {
      const got = await api("/api/v1/shares/redeem", {
        method: "POST",
        body: JSON.stringify({ token: share[1] }),
      });
      setGuest(got.access_token);
      history.replaceState(null, "", "#/g/" + got.session_id);
    } catch (err) {
      show("session");
      $("#outcome").replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
  }
  const shared = location.hash.match(/^#\/g\/([0-9a-f-]{36})$/);
  if (shared && isGuest()) {
    $("#who-line").hidden = true;
    return await sessionPage(shared[1]);
  }
  setGuest("");
  try {
    me = await whoAmI();
  } catch (err) {
    me = null;
    $("#auth-error").textContent = err.status === 401
      ? "That key or login was not accepted (401). Check it and try again."
      : err.message;
  }
  $("#who-line").hidden = !me;
  if (!me) {
    show("auth");
    return;
  }
  $("#who").textContent = me.label;
  const m = location.hash.match(/^#\/s\/([0-9a-f-]{36})$/);
  if (m) await sessionPage(m[1]);
  else await home();
}
addEventListener("hashchange", route);
route();
