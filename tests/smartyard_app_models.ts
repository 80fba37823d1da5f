/**
 * The apps' own models as strict schemas, for contract tests: every type as the iOS decoders demand it
 * (iOS Decodable is type-strict; Android's Moshi would coerce), from REFERENCE_SMARTYARD §1.2 and the named
 * client files. Extra keys are refused too, so a typo in a field name fails here rather than in an app.
 */
import { z } from "zod";

const tf = z.enum(["t", "f"]);

/** BaseAPIResponse.swift / ApiResult.kt: the envelope of every 200. */
export function envelope<T extends z.ZodType>(data: T) {
  return z.strictObject({ code: z.literal(200), name: z.string(), message: z.string(), data });
}

/** Error bodies: the same envelope with the HTTP status as `code` and a `message` the apps show. */
export const errorEnvelope = z.strictObject({
  code: z.number().int().min(400),
  name: z.string(),
  message: z.string().min(1),
  data: z.unknown(),
});

/** user/phonePattern: the mask of the phone field. */
export const phonePatternData = z.string().min(1);

/** user/requestCode (RequestCodeResponse.kt; VUE Auth.vue needs data.method). */
export const requestCodeData = z.strictObject({ method: z.literal("sms") });

/** user/confirmCode (ConfirmCodeResponseData.swift: names optional). */
export const confirmCodeData = z.strictObject({
  accessToken: z.string().min(1),
  names: z.strictObject({ name: z.string(), patronymic: z.string(), last: z.string().optional() }).optional(),
});

/** ext/options (APIOptions.swift, ProviderConfigResponse.kt). */
export const optionsData = z.strictObject({
  payments: tf,
  paymentsUrl: z.string().optional(),
  cityCams: tf,
  chat: tf,
  supportPhone: z.string().optional(),
  timeZone: z.string().optional(),
  guestAccess: z.enum(["turnOnOnly", "turnOnAndOff"]).optional(),
  cctvView: z.enum(["list", "tree"]).optional(),
  activeTab: z.enum(["addresses", "notifications", "chat", "pay", "menu"]).optional(),
});

/** user/appVersion. */
export const appVersionData = z.enum(["none", "upgrade", "force_upgrade"]);

/** address/getAddressList (APIAddress.swift, APIDoor.swift). */
export const addressListData = z.array(z.strictObject({
  houseId: z.string().regex(/^\d+$/),
  address: z.string(),
  cctv: z.number().int().min(0),
  hasPlog: tf,
  doors: z.array(z.strictObject({
    domophoneId: z.string().regex(/^\d+$/),
    doorId: z.number().int(),
    entrance: z.string().optional(),
    icon: z.enum(["entrance", "wicket", "gate", "barrier"]),
    name: z.string(),
    blocked: z.string().optional(),
    dst: z.string().optional(),
  })),
}));

/** cctv/all and cctv/overview (APICCTV.swift: lat/lon only as strings; GetCCTVResponse.kt). */
export const cameraListData = z.array(z.strictObject({
  id: z.number().int(),
  name: z.string(),
  lat: z.string().regex(/^-?\d+(\.\d+)?$/),
  lon: z.string().regex(/^-?\d+(\.\d+)?$/),
  url: z.string().regex(/^https?:\/\/[^?#]*[^/?#]$/, "a stream base: no trailing slash, no query"),
  token: z.string().min(1),
  serverType: z.enum(["flussonic", "nimble", "macroscop", "trassir", "forpost"]).optional(),
  hlsMode: z.enum(["fmp4", "mpegts"]).optional(),
  hasSound: z.boolean().optional(),
}));

/** user/getPaymentsList (APIPaymentsListAddress.swift, APIPaymentsListAccount.swift: JSON numbers for money). */
export const paymentsListData = z.array(z.strictObject({
  address: z.string(),
  houseId: z.string().optional(),
  flatId: z.string().optional(),
  accounts: z.array(z.strictObject({
    clientId: z.string(),
    contractName: z.string(),
    contractPayName: z.string(),
    blocked: tf,
    balance: z.number(),
    bonus: z.number(),
    payAdvice: z.number().optional(),
    services: z.array(z.string()),
    lcab: z.string().optional(),
    lcabPay: z.string().optional(),
    clientName: z.string().optional(),
  })),
}));

/** pay/prepare: the order number as a string (iOS rejects numbers). */
export const prepareData = z.string().min(1);

/** pay/register (PayRegisterResponse.kt, iOS PayRegister). */
export const registerData = z.strictObject({ orderId: z.string().min(1), formUrl: z.url() });
