/**
 * The tax-portal client's protocol (GST "enable API access") on the api-access flow: `GET /captcha/`
 * starts a session and hands back its captcha with the session id as `token`; `PUT /enable_api/:token`
 * answers the captcha and waits for the portal's verdict. Every answer is `{message, errors, data}` with
 * the old service's statuses; README "Legacy clients" documents them. A token lives TAX_PORTAL_TTL_S (the
 * old `-ttl`), and that much longer after each refused login. With TAX_PORTAL_AUTH=none a caller without
 * a key is `null`: its sessions belong to OPEN_OWNER, and its token is its only credential.
 */
import type { Principal } from "../../auth/principal.ts";
import type { Deps } from "../../deps.ts";
import { ConflictError, NotFoundError } from "../../errors.ts";
import { apiKeyIdOf, canSee, ownerOf } from "../access.ts";
import { requireAutomation } from "../mod.ts";
import { FINAL_STATUSES, type SessionService, type SessionStatus, type SessionView } from "../sessions.ts";

/** The flow behind the tax-portal client. */
export const TAX_FLOW = "api-access";
/** How long `GET /captcha/` waits for the portal's captcha before giving up (and cancelling). */
export const CAPTCHA_WAIT_MS = 30_000;
/** How long `PUT /enable_api/:token` waits for the portal's verdict (login, then enabling API access). */
export const ENABLE_WAIT_MS = 60_000;
/** The owner of sessions started without a key (TAX_PORTAL_AUTH=none); admins see them too. */
export const OPEN_OWNER = "tax-portal";

/** Who calls: a principal, or null for a caller without a key on open routes (TAX_PORTAL_AUTH=none). */
export type TaxCaller = Principal | null;

/** One answer of the old service: its HTTP status and `{message, errors, data}` body. */
export interface TaxAnswer {
  status: 200 | 400 | 404 | 500 | 504;
  body: { message: string; errors: string[]; data: Record<string, unknown> };
}

/** What `PUT /enable_api/:token` carries. */
export interface EnableRequest {
  username: string;
  password: string;
  captcha: string;
}

type TaxDeps = Pick<Deps, "automation" | "config">;

const isFinal = (status: string) => FINAL_STATUSES.includes(status as SessionStatus);

function answer(
  status: TaxAnswer["status"],
  message: string,
  errors: string[],
  data: Record<string, unknown>,
): TaxAnswer {
  return { status, body: { message, errors, data } };
}

/** The captcha of `view`'s open prompt: base64 PNG without the data: prefix, and its unix time in seconds. */
function captchaData(view: SessionView): { captcha_base64: string; ts: number } {
  const prompt = view.prompt!;
  return {
    captcha_base64: (prompt.image ?? "").replace(/^data:image\/png;base64,/, ""),
    ts: Math.floor(Date.parse(prompt.opened_at) / 1000),
  };
}

/** 500 naming the step that broke, for a failed api-access session. */
function stepFailed(view: SessionView): TaxAnswer {
  const message = `Step failed on ${view.error_step ?? "session"}`;
  return answer(500, message, [view.error ?? message], { token: view.id });
}

const tokenNotFound = (token: string) => answer(404, "Token not found", ["Token not found"], { token });

/** Waits (real time, bounded) until `view`'s session shows a prompt other than `skip`, or ends. */
async function untilPromptOrEnd(
  sessions: SessionService,
  view: SessionView,
  options: { timeoutMs: number; skip?: string; signal?: AbortSignal },
): Promise<SessionView> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    if (isFinal(view.status) || (view.prompt && view.prompt.id !== options.skip)) return view;
    const left = deadline - performance.now();
    if (left <= 0 || options.signal?.aborted) return view;
    view = await sessions.waitForEvent(view.id, view.seq, left, options.signal);
  }
}

/**
 * `GET /captcha/`: starts an api-access session for `principal` and waits (≤ CAPTCHA_WAIT_MS) for its
 * captcha: 200 with the captcha and token, 500 when the flow broke first, else 504 (and the session is
 * cancelled).
 */
export async function requestCaptcha(
  deps: TaxDeps,
  caller: TaxCaller,
  signal?: AbortSignal,
): Promise<TaxAnswer> {
  const sessions = requireAutomation(deps).sessions;
  const ttlS = deps.config.TAX_PORTAL_TTL_S;
  const owner = caller ? ownerOf(caller) : OPEN_OWNER;
  const started = await sessions.start(owner, TAX_FLOW, {}, {
    lifetimeS: ttlS,
    promptTimeoutS: ttlS,
    apiKeyId: apiKeyIdOf(caller),
  });
  const view = await untilPromptOrEnd(sessions, started, { timeoutMs: CAPTCHA_WAIT_MS, signal });
  if (view.prompt?.kind === "captcha") {
    return answer(200, "Token generated", [], { ...captchaData(view), token: view.id });
  }
  if (view.status === "failed") return stepFailed(view);
  await sessions.cancel(view.id);
  const message = "The tax portal did not show a captcha in time";
  return answer(504, message, [view.error ?? message], { token: view.id });
}

/**
 * `PUT /enable_api/:token`: answers the token's captcha (username and password only where the prompt
 * asks for them, so server-side credentials win; each PUT's own, never an earlier one's) and waits
 * (≤ ENABLE_WAIT_MS) for the verdict: 200 enabled, 400 with a new captcha for a refused login (the session
 * then lives TAX_PORTAL_TTL_S longer), 404 for a token that is not the caller's open api-access session, 500 when the flow failed,
 * 504 on no verdict in time. A 409 problem while another PUT for the token is being handled.
 */
export async function enableApi(
  deps: TaxDeps,
  caller: TaxCaller,
  token: string,
  request: EnableRequest & { signal?: AbortSignal },
): Promise<TaxAnswer> {
  const sessions = requireAutomation(deps).sessions;
  let view: SessionView;
  try {
    view = await sessions.get(token);
  } catch (err) {
    if (err instanceof NotFoundError) return tokenNotFound(token);
    throw err;
  }
  const visible = caller ? canSee(caller, view.owner) : view.owner === OPEN_OWNER;
  if (!visible || view.flow !== TAX_FLOW || isFinal(view.status)) {
    return tokenNotFound(token);
  }
  const prompt = view.prompt;
  if (prompt?.kind !== "captcha") {
    // Another PUT is being handled: answering the captcha it brings back would send a stale one.
    throw new ConflictError(`Token ${token} is not waiting for a captcha (a login is in progress)`);
  }

  const names = new Set([...(prompt.fields ?? []).map((f) => f.name), "captcha"]);
  const value = Object.fromEntries(
    (["captcha", "username", "password"] as const).filter((n) => names.has(n)).map((n) => [n, request[n]]),
  );
  try {
    await sessions.answer(token, prompt.id, value);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const now = await sessions.get(token);
    if (now.status === "failed") return stepFailed(now);
    if (isFinal(now.status)) return tokenNotFound(token);
    throw err; // another request answered this captcha first
  }
  const outcome = await untilPromptOrEnd(sessions, await sessions.get(token), {
    timeoutMs: ENABLE_WAIT_MS,
    skip: prompt.id,
    signal: request.signal,
  });
  if (outcome.status === "succeeded") return answer(200, "API access enabled", [], { token });
  if (outcome.status === "failed") return stepFailed(outcome);
  if (isFinal(outcome.status)) return tokenNotFound(token);
  if (outcome.prompt?.kind === "captcha") {
    // A refused login: the same token with a new captcha, and the old service's TTL extension.
    const extended = await sessions.extend(token, deps.config.TAX_PORTAL_TTL_S);
    const next = extended.prompt?.id === outcome.prompt.id ? extended : outcome;
    return answer(400, "Login Unsuccessful", [outcome.prompt.error ?? "Login refused"], {
      token,
      ...captchaData(next),
    });
  }
  const message = "The tax portal did not answer in time";
  return answer(504, message, [message], { token });
}
