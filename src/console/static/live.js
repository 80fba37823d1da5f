// The live view: frames of the session's browser tab over the session socket while the panel is open,
// and take-over (clicks, keys, text) once control is handed over.
import { $ } from "./dom.js";

/** Wires the live-view panel to a session socket (`send`); returns {message, close}. */
export function liveView({ send }) {
  const img = $("#live-frame");
  const toggle = $("#live-toggle");
  const control = $("#control");
  let open = false;
  let size = { width: 0, height: 0 };
  let url = "";
  let controlled = false;
  const state = (text) => ($("#live-state").textContent = text);

  const setOpen = (on) => {
    open = on;
    $("#live").hidden = !on;
    toggle.textContent = on ? "Close live view" : "Open live view";
    toggle.setAttribute("aria-expanded", String(on));
    if (on) {
      $("#live").scrollIntoView({ block: "start" });
      state(send({ type: "watch" }) ? "connecting…" : "not connected (the session socket is down)");
    } else {
      send({ type: "unwatch" });
      state("");
    }
    document.body.dataset.frames = "0";
  };
  toggle.onclick = () => setOpen(!open);
  control.checked = false;
  control.onchange = () => {
    if (!send({ type: "control", enabled: control.checked })) control.checked = controlled;
  };

  // Pointer coordinates are sent in the tab's CSS pixels.
  const at = (e) => {
    const r = img.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) / r.width) * size.width,
      y: ((e.clientY - r.top) / r.height) * size.height,
    };
  };
  img.onclick = (e) => {
    if (!controlled) return;
    img.focus();
    send({ type: "pointer", kind: "click", ...at(e) });
  };
  // Wheel events come at 60+ a second from a trackpad: sum them and send at most 10 a second (the server closes
  // a socket that sends more than its message rate allows).
  let wheel = null;
  img.onwheel = (e) => {
    if (!controlled) return;
    e.preventDefault();
    if (wheel) return void (wheel.dy += e.deltaY);
    wheel = { ...at(e), dy: e.deltaY };
    setTimeout(() => {
      send({ type: "pointer", kind: "scroll", ...wheel });
      wheel = null;
    }, 100);
  };
  img.onkeydown = (e) => {
    if (!controlled || e.ctrlKey || e.metaKey || e.altKey) return;
    if (
      e.key.length === 1 ||
      ["Enter", "Backspace", "Tab", "Escape", "Delete", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"]
        .includes(e.key)
    ) {
      e.preventDefault();
      send({ type: "key", key: e.key });
    }
  };
  $("#type-form").onsubmit = (e) => {
    e.preventDefault();
    const text = $("#type-text").value;
    if (text && send({ type: "text", text })) $("#type-text").value = "";
  };

  return {
    /** A socket message without a seq: frames, control changes, refusals. */
    message(msg) {
      if (msg.type === "frame") {
        document.body.dataset.framesTotal = String(Number(document.body.dataset.framesTotal || 0) + 1);
      }
      if (msg.type === "frame" && open) {
        size = { width: msg.width, height: msg.height };
        const blob = new Blob([Uint8Array.from(atob(msg.data), (c) => c.charCodeAt(0))], {
          type: "image/jpeg",
        });
        const old = url;
        url = URL.createObjectURL(blob);
        img.src = url;
        if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
        document.body.dataset.frames = String(Number(document.body.dataset.frames || 0) + 1);
        state(controlled ? "you have control" : "watching");
      } else if (msg.type === "control") {
        controlled = msg.enabled;
        control.checked = msg.enabled;
        img.classList.toggle("control", msg.enabled);
        $("#type-form").hidden = !msg.enabled;
        if (open) state(msg.enabled ? "you have control" : "watching");
      } else if (msg.type === "live") {
        state("no browser to show right now (the session is queued, ended, or runs on another server)");
      } else if (msg.type === "error") {
        state(msg.detail || msg.title);
      }
    },
    /** The socket came back: watch again if the panel is open. */
    reattached() {
      if (open) send({ type: "watch" });
    },
    close() {
      if (open) setOpen(false);
      if (url) URL.revokeObjectURL(url);
    },
  };
}
