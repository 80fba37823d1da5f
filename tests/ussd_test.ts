import assert from "node:assert/strict";
import { decodeUssdText, parseUssdBalance, type UssdResult } from "../src/devices/ussd.ts";

type FailureReason = Extract<UssdResult, { ok: false }>["reason"];

/** [operator reply, balance, currency] — replies as operators send them, grouped by market. */
const BALANCES: ReadonlyArray<readonly [string, number, string | null]> = [
  // Hungary: Telekom, Yettel, Vodafone/One (spaces, NBSP or dots group thousands; "Ft" follows).
  ["Balance: 1 234,50 Ft", 1234.5, "HUF"],
  ["Egyenleg: 2 345 Ft", 2345, "HUF"],
  ["Kedves Ugyfelunk! Egyenlege: 1 250 Ft. Ervenyes: 2026.09.30.", 1250, "HUF"],
  ["Az Ön egyenlege 3 500 Ft, érvényes 2026.12.31-ig.", 3500, "HUF"],
  ["Egyenleged: 4\u00a0990 Ft", 4990, "HUF"],
  ["Aktuális egyenleg: -1 200 Ft", -1200, "HUF"],
  ["Egyenleg: 12.500 Ft", 12500, "HUF"],
  ["Egyenleg: 8 750 HUF", 8750, "HUF"],
  // Russia: MTS, MegaFon, Beeline, Tele2.
  ["Ваш баланс 150.25 руб.", 150.25, "RUB"],
  ["Баланс: -3,5 р.", -3.5, "RUB"],
  ["Баланс:87,15р. Тариф: Мой онлайн", 87.15, "RUB"],
  ["Ваш баланс 1 234,56 ₽", 1234.56, "RUB"],
  ["Баланс 150 руб. 25 коп.", 150.25, "RUB"],
  ["Ваш баланс: 45,00 руб. Подключите услугу *111*123#", 45, "RUB"],
  ["Balans: 99.50 rub", 99.5, "RUB"],
  // Ukraine: Kyivstar, Vodafone UA, lifecell.
  ["Баланс: 87.10 грн", 87.1, "UAH"],
  ["На рахунку 125,50 грн. Бонусний рахунок: 10 грн", 125.5, "UAH"],
  ["Залишок: 42,30 грн, діє до 01.01.2027", 42.3, "UAH"],
  // Turkey: Turkcell, Vodafone TR, Türk Telekom.
  ["Bakiyeniz 45,67 TL", 45.67, "TRY"],
  ["Kalan bakiyeniz: 120,00 TL'dir.", 120, "TRY"],
  ["Hattinizin bakiyesi ₺12,50", 12.5, "TRY"],
  // Poland: Orange, Play, Plus.
  ["Stan konta: 15,20 zł", 15.2, "PLN"],
  ["Stan konta glownego: 8,50 PLN. Konto wazne do 2026-10-01.", 8.5, "PLN"],
  ["Twoje saldo: 1 024,99 zł", 1024.99, "PLN"],
  // Germany.
  ["Ihr Guthaben beträgt 12,34 EUR", 12.34, "EUR"],
  ["Ihr aktuelles Guthaben: 5,00 €", 5, "EUR"],
  ["Guthaben: 1.234,56 EUR", 1234.56, "EUR"],
  // English: US, UK, India.
  ["Credit: $5.00", 5, "USD"],
  ["Your balance is $1,234.56. Expires 12/31/2026", 1234.56, "USD"],
  ["Balance: -12.50 EUR", -12.5, "EUR"],
  ["Your balance is -$5.00", -5, "USD"],
  ["Your balance is £3.20", 3.2, "GBP"],
  ["Main Bal: Rs 45.67", 45.67, "INR"],
  ["Main Bal Rs.123.45, Val 31-12-2026. Dial *121# for offers", 123.45, "INR"],
  ["Balance: ₹1,23,456.78", 123456.78, "INR"],
  ["Balance: 42.10", 42.1, null],
  ["Account balance 1'234.50 CHF", 1234.5, "CHF"],
  // Indonesia: Telkomsel, Indosat, XL.
  ["Pulsa Rp 12.500", 12500, "IDR"],
  ["Sisa pulsa Anda Rp12.500. Aktif s.d. 31-12-2026.", 12500, "IDR"],
  ["Pulsa: Rp 1.250.000, masa aktif 30 hari", 1250000, "IDR"],
  // Spanish-speaking markets.
  ["Su saldo es $ 20.50", 20.5, "USD"],
  ["Tu saldo es de 15,75 EUR", 15.75, "EUR"],
  ["Saldo: 3.500,00 €", 3500, "EUR"],
  // Iran: MCI (Hamrah-e Aval), Irancell, Rightel; Persian and Arabic-Indic digits.
  ["موجودی حساب شما ۱۲,۵۰۰ ریال است", 12500, "IRR"],
  ["مشترک گرامی، موجودی سیم‌کارت شما ۱۲۳,۴۵۶ ریال می‌باشد", 123456, "IRR"],
  ["موجودی حساب اصلی: ۵۰٬۰۰۰ ریال", 50000, "IRR"],
  ["اعتبار شما 25000 ریال", 25000, "IRR"],
  ["موجودی شما ۵,۰۰۰ تومان", 5000, "IRT"],
  ["موجودی: ٤٥,٠٠٠ ريال", 45000, "IRR"],
  ["مانده اعتبار: ۱۲۵٫۵ تومان", 125.5, "IRT"],
  // Negative balances spelled as a word, and more currency symbols.
  ["Ваш баланс минус 15 руб.", -15, "RUB"],
  ["Баланс: минус 15,00 р.", -15, "RUB"],
  ["Balance: minus $5.00", -5, "USD"],
  ["Bakiyeniz eksi 5,00 TL", -5, "TRY"],
  ["Your balance is ₦150.50", 150.5, "NGN"],
  ["Load balance: ₱25.00", 25, "PHP"],
  ["Balans: 12,40 ₼", 12.4, "AZN"],
];

/** [reply with other numbers in it, balance, currency] — the balance must win over the decoys. */
const TRAPS: ReadonlyArray<readonly [string, number, string | null]> = [
  ["Баланс 150 руб. Действует до 31.12.2026", 150, "RUB"],
  ["Balance: 12.50 USD. Tariff 10 GB for 5000", 12.5, "USD"],
  ["Bonus: 100 min. Balance: 3.20 EUR", 3.2, "EUR"],
  ["Ваш баланс 45 руб. Бонус 300 руб. Тел. 8-800-555-35-35", 45, "RUB"],
  ["Balance 7.50 GBP. Call 07700 900123 for help.", 7.5, "GBP"],
  ["На 01.02.2026 ваш баланс 150,50 руб.", 150.5, "RUB"],
  ["Your last top-up was 20.00 USD. Balance: 4.75 USD", 4.75, "USD"],
  ["Bal: £10.00. Text BAL to 2345 free", 10, "GBP"],
  ["بسته ۱۰ گیگ فعال است. موجودی: ۸,۰۰۰ ریال", 8000, "IRR"],
  ["اعتبار شما ۱۲۰۰۰ ریال تا تاریخ ۱۴۰۵/۰۱/۰۱", 12000, "IRR"],
  ["Остаток: 312.40 руб., 200 мин и 5 ГБ до 15.03 23:59", 312.4, "RUB"],
];

/** [reply, reason] — failures must never turn into a number. */
const FAILURES: ReadonlyArray<readonly [string, FailureReason]> = [
  ["ussd timeout", "timeout"],
  ["USSD TIMEOUT", "timeout"],
  ["ussd bad format", "bad_format"],
  ["ussd modem error", "modem_error"],
  ["Error: network busy, try again in 30 s", "operator_error"],
  ["UNKNOWN APPLICATION", "operator_error"],
  ["Connection problem or invalid MMI code.", "operator_error"],
  ["Запрос не выполнен", "operator_error"],
  ["خطا در ارتباط", "operator_error"],
  ["Service unavailable", "operator_error"],
  ["Invalid USSD code", "operator_error"],
  ["Fehler: 500", "operator_error"],
  ["", "unrecognized"],
  ["   \n\t ", "unrecognized"],
  ["Thank you for your request", "unrecognized"],
  ["Ваш запрос принят. Ответ придет в SMS", "unrecognized"],
  ["Tariff 10 GB for 5000", "unrecognized"],
  ["Call 0800 123 456 or dial *100#", "unrecognized"],
];

/** [what a tracker forwards, the reply text inside] — modem wrappings unwrapped by decodeUssdText. */
const WRAPPED: ReadonlyArray<readonly [string, string]> = [
  ['+CUSD: 0,"Balance: 12.50 EUR",15', "Balance: 12.50 EUR"],
  ['+CUSD: 2,"ussd timeout"', "ussd timeout"],
  [' CUSD: 0,"Balance: 12.50 EUR",15', "Balance: 12.50 EUR"], // `+` lost to query-string decoding
  [`+CUSD: 0,"${ucs2Hex("Ваш баланс 150.25 руб.")}",72`, "Ваш баланс 150.25 руб."],
  [ucs2Hex("Ваш баланс 150.25 руб."), "Ваш баланс 150.25 руб."],
  [ucs2Hex("موجودی: ۸,۰۰۰ ریال"), "موجودی: ۸,۰۰۰ ریال"],
  [ucs2Hex("Egyenleg: 2 345 Ft"), "Egyenleg: 2 345 Ft"],
  // Hex-looking text that is not UCS-2 stays as it is.
  ["12345678", "12345678"],
  ["DEADBEEF", "DEADBEEF"],
  ["  Balance: 1 Ft \n", "Balance: 1 Ft"],
];

function ucs2Hex(text: string): string {
  return [...text].map((c) => c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()).join("");
}

for (const [raw, text] of WRAPPED) {
  Deno.test(`decodeUssdText unwraps ${JSON.stringify(raw.slice(0, 40))}`, () => {
    assert.equal(decodeUssdText(raw), text);
  });
}

for (const [text, balance, currency] of [...BALANCES, ...TRAPS]) {
  Deno.test(`parseUssdBalance reads ${JSON.stringify(text)} as ${balance} ${currency ?? "without currency"}`, () => {
    assert.deepEqual(parseUssdBalance(text), { ok: true, balance, currency, raw: text });
  });
}

for (const [text, reason] of FAILURES) {
  Deno.test(`parseUssdBalance reports ${JSON.stringify(text)} as ${reason}`, () => {
    assert.deepEqual(parseUssdBalance(text), { ok: false, reason, raw: text });
  });
}
