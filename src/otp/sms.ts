/** SMS providers: console (dev), Kannel sendsms, a JSON webhook, Twilio's Messages API and Ghasedak. */
import type { Config } from "../config.ts";

/** Sends one text message; rejects with SmsError when the provider did not accept it. */
export interface SmsSender {
  readonly name: string;
  send(to: string, text: string): Promise<void>;
}

/** A provider refused or could not be reached. The message never contains the SMS text. */
export class SmsError extends Error {
  override name = "SmsError";
}

/** Writes one line per message to stdout: the only place a code may appear, for development. */
export function consoleSms(write: (line: string) => void = console.log): SmsSender {
  return {
    name: "console",
    send(to, text) {
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "info",
          msg: "sms (console provider)",
          to,
          text,
        }),
      );
      return Promise.resolve();
    },
  };
}

/** Kannel's `sendsms` HTTP interface: GET with username, password, from, to, text (and a 2xx on acceptance). */
export function kannelSms(
  opts: { url: string; user?: string; password?: string; sender?: string; timeoutMs: number },
) {
  return {
    name: "kannel",
    async send(to: string, text: string) {
      const url = new URL(opts.url);
      if (opts.user) url.searchParams.set("username", opts.user);
      if (opts.password) url.searchParams.set("password", opts.password);
      if (opts.sender) url.searchParams.set("from", opts.sender);
      url.searchParams.set("to", to);
      url.searchParams.set("text", text);
      url.searchParams.set("charset", "UTF-8");
      url.searchParams.set("coding", /^[\x20-\x7e]*$/.test(text) ? "0" : "2");
      await expectOk("kannel", () => fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs) }));
    },
  } satisfies SmsSender;
}

/** POSTs `{"to","text"}` as JSON to a webhook; any 2xx is acceptance. */
export function httpSms(opts: { url: string; timeoutMs: number }) {
  return {
    name: "http",
    async send(to: string, text: string) {
      await expectOk("http", () =>
        fetch(opts.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ to, text }),
          signal: AbortSignal.timeout(opts.timeoutMs),
        }));
    },
  } satisfies SmsSender;
}

/** Twilio Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded, Basic auth. */
export function twilioSms(
  opts: {
    baseUrl: string;
    accountSid: string;
    authToken: string;
    from?: string;
    messagingServiceSid?: string;
    timeoutMs: number;
  },
) {
  return {
    name: "twilio",
    async send(to: string, text: string) {
      const form = new URLSearchParams({ To: to, Body: text });
      if (opts.messagingServiceSid) form.set("MessagingServiceSid", opts.messagingServiceSid);
      else if (opts.from) form.set("From", opts.from);
      const url = new URL(
        `/2010-04-01/Accounts/${encodeURIComponent(opts.accountSid)}/Messages.json`,
        opts.baseUrl,
      );
      await expectOk("twilio", () =>
        fetch(url, {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa(`${opts.accountSid}:${opts.authToken}`)}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: form,
          signal: AbortSignal.timeout(opts.timeoutMs),
        }));
    },
  } satisfies SmsSender;
}

/**
 * Ghasedak's web service, the provider of the old Traccar middleware (its `ghasedak-sms` SDK calls this API):
 * `POST {base}/rest/api/v1/WebService/SendSingleSMS`, key in the `ApiKey` header, JSON body
 * `{receptor, message, lineNumber?}`. It answers `{IsSuccess, StatusCode, Message, Data}` and may refuse with
 * HTTP 200, so only `IsSuccess: true` is acceptance. Ghasedak documents Iranian numbers in the national
 * form `09…`, so +98 numbers are sent that way; others go in E.164. https://ghasedak.me/docs
 */
export function ghasedakSms(
  opts: { baseUrl: string; apiKey: string; lineNumber?: string; timeoutMs: number },
) {
  return {
    name: "ghasedak",
    async send(to: string, text: string) {
      const body: Record<string, string> = {
        receptor: to.startsWith("+98") ? `0${to.slice(3)}` : to,
        message: text,
      };
      if (opts.lineNumber) body.lineNumber = opts.lineNumber;
      const signal = AbortSignal.timeout(opts.timeoutMs);
      const res = await reach(
        "ghasedak",
        () =>
          fetch(`${opts.baseUrl}/rest/api/v1/WebService/SendSingleSMS`, {
            method: "POST",
            headers: { ApiKey: opts.apiKey, "content-type": "application/json", accept: "application/json" },
            body: JSON.stringify(body),
            signal,
          }),
      );
      const answer = await reach("ghasedak", () => res.text()).then(jsonOrNull);
      const code = property(answer, "statusCode");
      const coded = typeof code === "number" || typeof code === "string" ? ` (StatusCode ${code})` : "";
      if (!res.ok) throw new SmsError(`SMS provider ghasedak answered HTTP ${res.status}${coded}`);
      if (property(answer, "isSuccess") !== true) {
        throw new SmsError(`SMS provider ghasedak refused the message${coded}`);
      }
    },
  } satisfies SmsSender;
}

/** Builds the provider named by SMS_PROVIDER. */
export function smsFromConfig(config: Config, write?: (line: string) => void): SmsSender {
  const timeoutMs = config.SMS_TIMEOUT_MS;
  switch (config.SMS_PROVIDER) {
    case "kannel":
      return kannelSms({
        url: config.KANNEL_URL!,
        user: config.KANNEL_USER,
        password: config.KANNEL_PASSWORD,
        sender: config.KANNEL_SENDER,
        timeoutMs,
      });
    case "http":
      return httpSms({ url: config.SMS_WEBHOOK_URL!, timeoutMs });
    case "twilio":
      return twilioSms({
        baseUrl: config.TWILIO_BASE_URL,
        accountSid: config.TWILIO_ACCOUNT_SID!,
        authToken: config.TWILIO_AUTH_TOKEN!,
        from: config.TWILIO_FROM,
        messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
        timeoutMs,
      });
    case "ghasedak":
      return ghasedakSms({
        baseUrl: config.GHASEDAK_BASE_URL,
        apiKey: config.GHASEDAK_API_KEY!,
        lineNumber: config.GHASEDAK_LINE_NUMBER,
        timeoutMs,
      });
    default:
      return consoleSms(write);
  }
}

async function expectOk(provider: string, call: () => Promise<Response>): Promise<void> {
  const res = await reach(provider, call);
  await res.body?.cancel();
  if (!res.ok) throw new SmsError(`SMS provider ${provider} answered HTTP ${res.status}`);
}

/** Runs one step of a provider call, turning a timeout or a network failure into an SmsError. */
async function reach<T>(provider: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const why = err instanceof DOMException && err.name === "TimeoutError"
      ? "timed out"
      : "could not be reached";
    throw new SmsError(`SMS provider ${provider} ${why}`);
  }
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** `name` of a JSON object, matched without regard to case (ASP.NET services answer in either). */
function property(json: unknown, name: string): unknown {
  if (!json || typeof json !== "object") return undefined;
  const key = Object.keys(json).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (json as Record<string, unknown>)[key];
}
