// The open prompt of a session: its question, its image (replaced in place as frames arrive), the answer
// form (focused and scrolled into view) and, when flows use the built-in demo, where its codes are.
import { api, sessionPath } from "./api.js";
import { $, el } from "./dom.js";

/** Shows `state.view.prompt` (or nothing); a new prompt is built once, later frames only swap the image. */
export function renderPrompt(state, settings) {
  const p = state.view.prompt;
  const box = $("#prompt");
  if (!p) {
    box.replaceChildren();
    state.promptId = "";
    return;
  }
  if (state.promptId === p.id) {
    const img = $("img", box);
    if (img && p.image && img.src !== p.image) img.src = p.image; // in place: the QR keeps changing
    return;
  }
  state.promptId = p.id;
  const parts = [el("h3", {}, p.message)];
  if (p.error) parts.push(el("p", { class: "error" }, p.error));
  if (p.image || p.has_image || p.kind === "qr" || p.kind === "captcha") {
    // Frames arrive as `image` events after the prompt; they replace this element's src in place.
    parts.push(
      el("img", {
        src: p.image,
        alt: p.kind === "qr" ? "QR code to scan" : "Captcha image",
        id: "prompt-image",
      }),
    );
  }
  if (p.kind === "qr") {
    parts.push(
      el("p", { class: "hint" }, "Scan it with the BankID app; it renews itself every few seconds."),
    );
    if (settings.demo) {
      const approve = el("button", { type: "button", class: "secondary" }, "Approve in the demo portal");
      approve.onclick = () => fetch("/demo/_debug/qr/approve", { method: "POST" });
      parts.push(approve);
    }
  } else {
    const form = el("form", { id: "answer" });
    let first;
    if (p.options?.length) {
      first = el(
        "select",
        { id: "answer-value", name: "value" },
        ...p.options.map((o) => el("option", { value: o.value }, o.label)),
      );
      form.append(el("label", { for: "answer-value" }, "Your choice"), first);
    } else if (p.fields?.length) {
      for (const f of p.fields) {
        const input = el("input", {
          id: "answer-" + f.name,
          name: f.name,
          type: f.type || "text",
          autocomplete: "off",
        });
        first ??= input;
        form.append(el("label", { for: input.id }, f.label), input);
      }
    } else {
      first = el("input", {
        id: "answer-value",
        name: "value",
        autocomplete: "one-time-code",
        type: p.secret ? "password" : "text",
      });
      form.append(
        el("label", { for: "answer-value" }, p.kind === "captcha" ? "Characters in the picture" : "Answer"),
        first,
      );
    }
    if (settings.demo && p.kind === "code") {
      form.append(
        el(
          "p",
          { class: "hint" },
          "Demo portal: its SMS codes are listed at ",
          el("a", { href: "/demo/_debug", target: "_blank", rel: "noopener" }, "/demo/_debug"),
          " (under “sms”).",
        ),
      );
    }
    form.append(el("div", { class: "row" }, el("button", {}, "Send")));
    form.onsubmit = async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      const value = p.fields?.length && !p.options?.length ? data : data.value;
      try {
        await api(`${sessionPath(state.id)}/input`, {
          method: "POST",
          body: JSON.stringify({ prompt: p.id, value }),
        });
      } catch (err) {
        form.append(el("p", { class: "error", role: "alert" }, err.message));
      }
    };
    parts.push(form);
    queueMicrotask(() => first?.focus());
  }
  box.replaceChildren(...parts);
  box.scrollIntoView({ block: "center", behavior: "smooth" });
  if (p.kind === "qr") box.focus({ preventScroll: true });
}
