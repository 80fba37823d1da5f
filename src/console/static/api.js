// The public API as the console uses it: the bearer token (memory + sessionStorage, never localStorage),
// JSON requests with problem+json errors, and following a session over its WebSocket with re-attach.
const KEY = "gatehouse.token";
let token = sessionStorage.getItem(KEY) || "";

/** The current token ("" when signed out). */
export const getToken = () => token;

// A share link's guest token: memory only, and it stands in for the sign-in token while set.
let guest = "";
/** Follows one shared session as a guest (`t`), or stops (""). */
export const setGuest = (t) => (guest = t);
/** True while this page is a share link's guest. */
export const isGuest = () => !!guest;
/** The bearer the API calls send. */
export const bearer = () => guest || token;
/** The REST path of session `id`: a guest's own routes, or the signed-in ones. */
export const sessionPath = (id) => (guest ? "/api/v1/shared/" : "/api/v1/sessions/") + id;

/** Keeps `t` for this tab only. */
export function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

/** Calls the API; throws an Error with `status` and the problem `body` on a non-2xx answer. */
export async function api(path, options = {}) {
  const headers = {
    ...(options.body ? { "content-type": "application/json" } : {}),
    ...(options.headers || {}),
  };
  if (bearer()) headers.authorization = "Bearer " + bearer();
  const res = await fetch(path, { ...options, headers });
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const fields = body?.errors?.length
      ? ": " + body.errors.map((e) => e.field + " " + e.message).join("; ")
      : "";
    throw Object.assign(new Error((body?.detail || body?.title || res.statusText) + fields), {
      status: res.status,
      body,
    });
  }
  return body;
}

/**
 * Follows session `id`: its events (after `after`) go to `onEvent` once each, in order, over the session's
 * WebSocket; a dropped socket is re-attached with `after=<last seq>` (told through `onState`), and after
 * repeated failures the REST long-poll takes over. Returns {send, close}.
 */
export function followSession(id, { after = 0, onEvent, onState, onMessage }) {
  let last = after;
  let socket;
  let closed = false;
  let failures = 0;
  let ended = false;
  const deliver = (msg) => {
    if (msg.seq === null || msg.seq === undefined) return onMessage?.(msg); // frames, control, refusals
    if (msg.type === "status" && ["succeeded", "failed", "cancelled", "expired"].includes(msg.status)) {
      ended = true; // even when already seen: the server hangs up next, and that is no drop
    }
    if (msg.type !== "image") {
      if (msg.seq <= last) return; // replayed twice across a re-attach: shown once
      last = msg.seq;
    }
    onEvent(msg);
  };
  const connect = async (again) => {
    if (closed || ended) return;
    try {
      const { ws_url } = guest
        ? await api(sessionPath(id) + "/tickets", { method: "POST" })
        : await api("/api/v1/ws/tickets", { method: "POST", body: JSON.stringify({ session: id }) });
      socket = new WebSocket(ws_url + "&after=" + last);
    } catch (err) {
      return retry(err);
    }
    const s = socket;
    s.onopen = () => {
      failures = 0;
      onState(again ? "reattached" : "live", last);
    };
    s.onmessage = (e) => deliver(JSON.parse(e.data));
    s.onclose = () => {
      if (s !== socket || closed || ended) return;
      retry();
    };
  };
  const retry = (err) => {
    if (closed || ended) return;
    failures++;
    if (failures > 3) return poll();
    onState("reconnecting", last, err);
    setTimeout(() => connect(true), 500 * failures);
  };
  const poll = async () => {
    onState("polling", last);
    while (!closed && !ended) {
      try {
        const view = await api(`${sessionPath(id)}?wait=25&after=${last}`);
        const { events } = await api(`${sessionPath(id)}/events?after=${last}`);
        for (const ev of events) deliver({ ...ev.data, type: ev.type, seq: ev.seq, at: ev.at });
        if (view.prompt?.image) {
          deliver({ type: "image", seq: view.seq, prompt: view.prompt.id, image: view.prompt.image });
        }
      } catch (err) {
        onState("polling", last, err);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  connect(false);
  return {
    /** Sends a client message; false when the socket is not open (the long-poll cannot carry it). */
    send(msg) {
      if (socket?.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(msg));
      return true;
    },
    /** Drops the socket as a network failure would (the follower re-attaches). */
    drop() {
      socket?.close(4000, "dropped");
    },
    close() {
      closed = true;
      socket?.close(1000, "left");
    },
  };
}
