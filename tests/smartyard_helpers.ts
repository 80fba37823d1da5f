/**
 * The SmartYard tests' world: the app on a real database with a fake clock, and the outside systems as real
 * local HTTP servers speaking their protocols (tests/fakes: billing, the Sberbank gateway, a door panel).
 */
import { ADMIN } from "./camera_helpers.ts";
import { FakeBilling, type FakePlace } from "./fakes/billing.ts";
import { FakePanel } from "./fakes/intercom.ts";
import { FakeSberbank, MERCHANT } from "./fakes/sberbank.ts";
import { type TestApp, testApp } from "./helpers.ts";

/** The phone the apps send (11 digits). */
export const PHONE = "79161234567";
/** PHONE as gatehouse keeps it. */
export const PHONE_E164 = "+79161234567";
/** The house billing links to PHONE (billPhone), set up by seedHouse. */
export const HOUSE_ID = 101;
/** Its address. */
export const HOUSE_ADDRESS = "Тамбов, ул. Уборевича, дом 9";
/** PHONE's contract in billing. */
export const CLIENT_ID = "89545";
/** What billing's getlist answers for PHONE (money in rubles, as billing writes it). */
export const PLACE: FakePlace = {
  address: `${HOUSE_ADDRESS}, кв 17`,
  houseId: HOUSE_ID,
  flatId: "17",
  accounts: [{
    clientId: CLIENT_ID,
    contractName: "ФЛ-84235/20",
    contractPayName: "84235",
    blocked: "f",
    balance: 150.5,
    bonus: 0,
    payAdvice: 500,
    services: ["internet", "domophone"],
    lcab: "https://lk.example.net/",
  }],
};

/** Everything a SmartYard test needs, disposed with `await using`. */
export interface SmartyardWorld extends AsyncDisposable {
  t: TestApp;
  billing: FakeBilling;
  bank: FakeSberbank;
  panel: FakePanel;
  /** POSTs to the apps' API (`/api/<path>`) with a JSON body (a string is sent as is) and an optional token. */
  call(
    path: string,
    body?: unknown,
    token?: string | null,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** Logs the apps' phone in (requestCode → the SMS's code → confirmCode) and answers the accessToken. */
  login(userPhone?: string): Promise<string>;
  /** Calls the admin API (/api/v1/smartyard/<path>) with the API key. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
}

/** Starts the fakes and the app configured to use them; `config` overrides settings, `deps` adds to them. */
export async function smartyardWorld(
  options: Pick<Parameters<typeof testApp>[0] & object, "config" | "deps"> = {},
): Promise<SmartyardWorld> {
  const billing = new FakeBilling();
  const bank = new FakeSberbank();
  const panel = new FakePanel();
  const t = await testApp({
    config: {
      BILLING_URL: billing.billingUrl,
      BILLING_TIMEOUT_MS: "500",
      SBERBANK_URL: bank.url,
      SBERBANK_USERNAME: MERCHANT.userName,
      SBERBANK_PASSWORD: MERCHANT.password,
      SBERBANK_RETURN_URL: "https://pay.example.net/success_payment.html",
      SBERBANK_FAIL_URL: "https://pay.example.net/failed_payment.html",
      SBERBANK_CALLBACK_SECRET: bank.callbackSecret,
      SBERBANK_TIMEOUT_MS: "1000",
      SMARTYARD_DOOR_SECRETS: JSON.stringify({ panel: panel.password }),
      SMARTYARD_DOOR_TIMEOUT_MS: "500",
      MEDIA_BASE_URL: "https://dvr.example.net/",
      ...options.config,
    },
    deps: options.deps,
  });
  const call = (path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}) =>
    t.json("POST", `/api/${path}`, body, token ? { authorization: `Bearer ${token}`, ...headers } : headers);
  return {
    t,
    billing,
    bank,
    panel,
    call,
    async login(userPhone = PHONE) {
      t.clock.advance((t.deps.config.OTP_RESEND_S + 1) * 1000); // past the resend cooldown of an earlier login
      const r1 = await call("user/requestCode", { userPhone });
      if (r1.status !== 200) throw new Error(`requestCode failed: ${r1.status} ${await r1.text()}`);
      await r1.body?.cancel();
      const code = t.sms.lastCode(`+7${userPhone.slice(1)}`);
      const r2 = await call("user/confirmCode", { userPhone, smsCode: code });
      if (r2.status !== 200) throw new Error(`confirmCode failed: ${r2.status} ${await r2.text()}`);
      return (await r2.json()).data.accessToken;
    },
    admin: (method, path, body) => t.json(method, `/api/v1/smartyard/${path}`, body, ADMIN),
    async [Symbol.asyncDispose]() {
      await t[Symbol.asyncDispose]();
      await Promise.all([billing.close(), bank.close(), panel.close()]);
    },
  };
}

/** Answers the JSON body after checking the status (with the body in the failure message). */
export async function expectJson(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** Reads an error envelope: status, JSON content type, `code` equal to the status, a `message` to show. */
export async function envelopeError(
  res: Response,
  status: number,
): Promise<{ name: string; message: string; data: Record<string, unknown> }> {
  const body = await expectJson(res, status);
  if (!(res.headers.get("content-type") ?? "").startsWith("application/json")) {
    throw new Error(`expected application/json, got ${res.headers.get("content-type")}`);
  }
  if (body.code !== status || typeof body.message !== "string" || typeof body.name !== "string") {
    throw new Error(`not an envelope: ${JSON.stringify(body)}`);
  }
  return body as { name: string; message: string; data: Record<string, unknown> };
}

/** Sets up house HOUSE_ID with one door on the fake panel and cameras with these stream names. */
export async function seedHouse(
  w: SmartyardWorld,
  options: { id?: number; address?: string; streams?: string[]; domophoneId?: number; doorCamera?: boolean } =
    {},
): Promise<{ houseId: number; cameraIds: string[]; doorId: string }> {
  const houseId = options.id ?? HOUSE_ID;
  await expectJson(
    await w.admin("POST", "houses", { id: houseId, address: options.address ?? HOUSE_ADDRESS }),
    201,
  );
  const cameraIds: string[] = [];
  for (const [i, stream] of (options.streams ?? [`yard-${houseId}`]).entries()) {
    const cam = await expectJson(
      await w.t.json("POST", "/api/v1/cameras", { stream, title: `Камера ${i + 1} (${stream})` }, ADMIN),
      201,
    );
    cameraIds.push(String(cam.id));
    await expectJson(
      await w.admin("PUT", `houses/${houseId}/cameras/${cam.id}`, { lat: "52.7212", lon: "41.4523" }),
      201,
    );
  }
  const panelUrl = new URL(w.panel.url);
  const door = await expectJson(
    await w.admin("POST", `houses/${houseId}/doors`, {
      domophone_id: options.domophoneId ?? 53,
      door_id: 0,
      entrance: "1",
      icon: "entrance",
      name: "Подъезд 1",
      open_url: `http://admin:{secret:panel}@${panelUrl.host}/cgi-bin/intercom_cgi?action=maindoor`,
      camera_id: options.doorCamera ? cameraIds[0] : null,
    }),
    201,
  );
  return { houseId, cameraIds, doorId: String(door.id) };
}

/** Billing links PHONE to HOUSE_ID with the PLACE contract. */
export function billPhone(w: SmartyardWorld, phone = PHONE, place: FakePlace = PLACE): void {
  w.billing.addresses.set(phone, [{ houseId: Number(place.houseId), address: HOUSE_ADDRESS }]);
  w.billing.places.set(phone, [place]);
}
