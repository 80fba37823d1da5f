/** The words, symbols and reply patterns the USSD balance parser (ussd.ts) recognises, by language. */

/** Why a reply carries no balance. */
export type FailureReason = "timeout" | "bad_format" | "modem_error" | "operator_error" | "unrecognized";

/** Replies that trackers themselves produce when the modem or the network gave no usable answer. */
export const TRACKER_FAILURES: ReadonlyArray<readonly [RegExp, FailureReason]> = [
  [/\bussd[\s_-]*time[\s_-]*out\b/i, "timeout"],
  [/\bussd[\s_-]*bad[\s_-]*format\b/i, "bad_format"],
  [/\bussd[\s_-]*modem[\s_-]*error\b/i, "modem_error"],
];

/** Operator and handset error replies; any of these means the reply carries no balance. */
export const OPERATOR_ERRORS: readonly RegExp[] = [
  /^\s*(?:error|err|fehler|hata|hiba|błąd|blad|ошибка|помилка)(?!\p{L})/iu,
  /unknown application/i,
  /connection problem/i,
  /invalid (?:mmi|ussd)/i,
  /service (?:is )?(?:temporarily )?(?:unavailable|not available)/i,
  /network (?:busy|error|failure)/i,
  /(?:запрос|запит) не (?:выполнен|виконано)/iu,
  /(?:сервис|услуга|сервіс|послуга)\S* (?:временно |тимчасово )?недоступн/iu,
  /(?:^|\s)خطا/u, // "error" (خطا در ارتباط, خطای ...)
  /در دسترس نیست/u, // "is not available"
];

/** Currency symbols, accepted on either side of the number. */
export const CURRENCY_SYMBOLS: Readonly<Record<string, string>> = {
  "$": "USD",
  "€": "EUR",
  "£": "GBP",
  "₽": "RUB",
  "₺": "TRY",
  "₴": "UAH",
  "₹": "INR",
  "₸": "KZT",
  "﷼": "IRR",
  "₦": "NGN",
  "₱": "PHP",
  "₼": "AZN",
  "₾": "GEL",
  "₫": "VND",
  "฿": "THB",
};

/** Upper-case ISO 4217 codes accepted as written by operators, on either side of the number. */
// deno-fmt-ignore
export const ISO_CODES: ReadonlySet<string> = new Set([
  "USD", "EUR", "GBP", "HUF", "RUB", "TRY", "PLN", "UAH", "INR", "IDR", "IRR", "CHF", "CZK", "RON",
  "BGN", "KZT", "BYN", "UZS", "AZN", "GEL", "AMD", "MDL", "SEK", "NOK", "DKK", "CAD", "AUD", "MXN",
  "ARS", "COP", "CLP", "PEN", "BRL", "ZAR", "NGN", "KES", "EGP", "PKR", "BDT", "PHP", "MYR", "THB",
  "VND",
]);

/** Currency words; `before` says the word may also precede the number (`Rs 45`, `Rp 12.500`). */
export const CURRENCY_WORDS: ReadonlyArray<
  { code: string; exact: string[]; stems: string[]; before: boolean }
> = [
  { code: "HUF", exact: ["ft"], stems: ["forint"], before: false },
  { code: "RUB", exact: ["р", "rur"], stems: ["руб", "rub"], before: false },
  { code: "UAH", exact: ["hrn"], stems: ["грн", "грив"], before: false },
  { code: "TRY", exact: ["tl"], stems: [], before: false },
  { code: "PLN", exact: ["zł", "zl"], stems: ["złot", "zlot"], before: false },
  { code: "EUR", exact: ["eur"], stems: ["euro"], before: false },
  { code: "INR", exact: ["rs"], stems: ["rupee"], before: true },
  { code: "IDR", exact: ["rp"], stems: ["rupiah"], before: true },
  { code: "IRR", exact: [], stems: ["ریال"], before: false },
  { code: "IRT", exact: ["تومن"], stems: ["تومان"], before: false },
];

/** Words that introduce the balance (lower-case stems, so inflected forms match too). */
// deno-fmt-ignore
export const BALANCE_STEMS: readonly string[] = [
  "balance", "balans", "credit", "crédit", "crédito", "credito", "guthaben", "kontostand", "saldo",
  "баланс", "остаток", "залишок", "рахун", "счет", "счёт", "bakiye", "egyenleg", "konta", "konto",
  "pulsa", "sisa", "موجودی", "اعتبار", "مانده", "شارژ", "رصید",
];
export const BALANCE_WORDS: readonly string[] = ["bal"];

/** Words that introduce some other amount (bonus, package), which should lose to the main balance. */
export const SECONDARY_STEMS: readonly string[] = [
  "bonus",
  "бонус",
  "bónusz",
  "hediye",
  "пакет",
  "paket",
  "بسته",
  "هدیه",
];

/** Words that say the amount is negative (`Баланс: минус 15 руб.`). */
export const MINUS_WORDS: readonly string[] = ["минус", "мінус", "minus", "mínusz", "eksi", "منفی"];

/** Units that mark a number as a bundle size or a duration rather than money. */
// deno-fmt-ignore
export const UNIT_WORDS: readonly string[] = [
  "gb", "mb", "kb", "tb", "гб", "мб", "кб", "min", "mins", "мин", "хв", "sms", "смс", "дн", "tag",
  "tage", "tagen", "nap", "napig", "perc", "hari", "روز", "مگ", "گیگ",
];
// deno-fmt-ignore
export const UNIT_STEMS: readonly string[] = [
  "minut", "минут", "day", "дней", "дня", "день", "днів", "gün", "día", "dias", "dakika", "menit",
  "mesaj", "second", "секунд", "دقیقه", "گیگابایت", "مگابایت", "پیامک",
];

/** Characters that may separate digit groups; the first two may also be decimal separators. */
export const DECIMAL_SEPARATORS = ".,";
export const GROUP_SEPARATORS = ".,' ’";

/** How far (in tokens) a balance keyword may be from its number. */
export const KEYWORD_REACH = 8;
