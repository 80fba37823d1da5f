/**
 * Reads the SIM balance out of the USSD reply text a GPS tracker forwards (e.g. the answer to `*102#`).
 *
 * Operators answer in many languages, digit sets and number formats, and the reply often holds other
 * numbers (dates, phone numbers, bundle sizes). The parser therefore works in three small steps:
 * 1. normalise the text (Persian/Arabic-Indic digits, odd spaces, bidi marks, minus signs);
 * 2. recognise the tracker's and the operator's failure replies before looking at any number;
 * 3. tokenise into numbers, words, currency symbols and punctuation, then score every plausible number:
 *    next to a currency token scores highest, shortly after a balance keyword scores next, and numbers
 *    that are part of a date, time, phone number, USSD code, percentage or bundle size are never chosen.
 *
 * Currency is an ISO 4217 code where recognisable. The one exception is `IRT` for the Iranian toman
 * (تومان, 10 rials): it is not in ISO 4217 but is the common code for it, and converting to rials here
 * would hide what the operator actually said.
 */
import {
  BALANCE_STEMS,
  BALANCE_WORDS,
  CURRENCY_SYMBOLS,
  CURRENCY_WORDS,
  DECIMAL_SEPARATORS,
  type FailureReason,
  GROUP_SEPARATORS,
  ISO_CODES,
  KEYWORD_REACH,
  MINUS_WORDS,
  OPERATOR_ERRORS,
  SECONDARY_STEMS,
  TRACKER_FAILURES,
  UNIT_STEMS,
  UNIT_WORDS,
} from "./ussd_words.ts";

/** Result of parsing one USSD reply. */
export type UssdResult =
  | { ok: true; balance: number; currency: string | null; raw: string }
  | {
    ok: false;
    reason: FailureReason;
    raw: string;
  };

type Token =
  | { kind: "number"; start: number; end: number; value: number; integer: boolean; tainted: boolean }
  | { kind: "word"; start: number; end: number; text: string; lower: string }
  | { kind: "symbol"; start: number; end: number; text: string }
  | { kind: "punct"; start: number; end: number; text: string };

type NumberToken = Extract<Token, { kind: "number" }>;

/** Extracts the SIM balance and currency from an operator's USSD reply, or says why it cannot. */
export function parseUssdBalance(text: string): UssdResult {
  const normalized = normalizeText(text);
  if (normalized.trim() === "") return { ok: false, reason: "unrecognized", raw: text };

  const failure = detectFailure(normalized);
  if (failure !== null) return { ok: false, reason: failure, raw: text };

  const found = findBalance(tokenize(normalized));
  if (found === null) return { ok: false, reason: "unrecognized", raw: text };
  return { ok: true, balance: found.balance, currency: found.currency, raw: text };
}

function normalizeText(text: string): string {
  return text
    .replace(/[\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/\u066B/g, ".") // Arabic decimal separator
    .replace(/\u066C/g, ",") // Arabic thousands separator
    .replace(/(?<=\d)\u060C(?=\d)/g, ",") // Arabic comma used between digit groups
    .replace(/[\u064A\u0649]/g, "\u06CC") // Arabic yeh -> Persian yeh, so ريال and ریال read alike
    .replace(/\u0643/g, "\u06A9") // Arabic kaf -> Persian kaf
    .replace(/[\u200E\u200F\u202A-\u202E\u2066-\u2069\u061C\uFEFF]/g, "") // bidi marks
    .replace(/[\u00A0\u2007\u2009\u202F]/g, " ") // NBSP, figure, thin and narrow spaces
    .replace(/[\u2212\u2013]/g, "-"); // minus sign, en dash
}

function detectFailure(text: string): FailureReason | null {
  for (const [pattern, reason] of TRACKER_FAILURES) {
    if (pattern.test(text)) return reason;
  }
  return OPERATOR_ERRORS.some((pattern) => pattern.test(text)) ? "operator_error" : null;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function isLetter(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{M}\u200C]/u.test(ch);
}

function readDigits(s: string, from: number): string {
  let end = from;
  while (isDigit(s[end])) end++;
  return s.slice(from, end);
}

/**
 * Reads one number starting at a digit, deciding which separators group thousands and which one
 * marks decimals. A lone `.` or `,` before exactly three digits counts as grouping (`12.500` is
 * 12500), because operators in the zero-decimal currencies (IDR, IRR, HUF) write it that way.
 */
function readNumber(s: string, start: number): { text: string; end: number; integer: boolean } {
  const indian = /^\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?/.exec(s.slice(start)); // lakh grouping 1,23,456.78
  if (indian) {
    return {
      text: indian[0].replaceAll(",", ""),
      end: start + indian[0].length,
      integer: !indian[0].includes("."),
    };
  }
  let intPart = readDigits(s, start);
  let i = start + intPart.length;
  let groupSeparator: string | null = null;
  let fraction: string | null = null;
  while (GROUP_SEPARATORS.includes(s[i] ?? "\n")) {
    const separator = s[i];
    const run = readDigits(s, i + 1);
    if (run === "") break;
    const firstGroupFits = intPart.length <= 3 && intPart !== "0";
    const isGroup = run.length === 3 &&
      (groupSeparator === null ? firstGroupFits : sameGroupSeparator(separator, groupSeparator));
    if (isGroup) {
      groupSeparator = separator;
      intPart += run;
      i += 1 + run.length;
      continue;
    }
    if (DECIMAL_SEPARATORS.includes(separator) && separator !== groupSeparator) {
      fraction = run;
      i += 1 + run.length;
    }
    break;
  }
  return { text: fraction === null ? intPart : `${intPart}.${fraction}`, end: i, integer: fraction === null };
}

function sameGroupSeparator(a: string, b: string): boolean {
  const apostrophes = "'’";
  return a === b || (apostrophes.includes(a) && apostrophes.includes(b));
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (
      isDigit(ch) || (ch === "-" && isDigit(s[i + 1]) && !isDigit(s[i - 1]) && !isLetter(s[i - 1]))
    ) {
      const negative = ch === "-";
      const digitsAt = negative ? i + 1 : i;
      const read = readNumber(s, digitsAt);
      const value = Number(read.text) * (negative ? -1 : 1);
      tokens.push({
        kind: "number",
        start: i,
        end: read.end,
        value: value === 0 ? 0 : value,
        integer: read.integer,
        tainted: isEmbeddedNumber(s, i, read.end),
      });
      i = read.end;
    } else if (isLetter(ch)) {
      let end = i;
      while (isLetter(s[end])) end++;
      const text = s.slice(i, end);
      tokens.push({ kind: "word", start: i, end, text, lower: text.toLowerCase() });
      i = end;
    } else if (ch in CURRENCY_SYMBOLS) {
      tokens.push({ kind: "symbol", start: i, end: i + 1, text: ch });
      i++;
    } else {
      tokens.push({ kind: "punct", start: i, end: i + 1, text: ch });
      i++;
    }
  }
  return tokens;
}

/** True when the number is only a piece of a date, time, phone number, USSD code or percentage. */
function isEmbeddedNumber(s: string, start: number, end: number): boolean {
  const before = s[start - 1];
  const after = s[end];
  const joiners = ".,:-/'’";
  if (before !== undefined && "+*#/\\".includes(before)) return true;
  if (before !== undefined && joiners.includes(before) && isDigit(s[start - 2])) return true;
  if (after !== undefined && "#*%/".includes(after)) return true;
  return after !== undefined && joiners.includes(after) && isDigit(s[end + 1]);
}

function matchesWord(lower: string, exact: readonly string[], stems: readonly string[]): boolean {
  return exact.includes(lower) || stems.some((stem) => lower.startsWith(stem));
}

/** The currency a token names, if any; `side` is where the token stands relative to the number. */
function currencyOf(token: Token | undefined, side: "before" | "after"): string | null {
  if (token === undefined) return null;
  if (token.kind === "symbol") return CURRENCY_SYMBOLS[token.text];
  if (token.kind !== "word") return null;
  if (ISO_CODES.has(token.text)) return token.text;
  if (token.text === "RUR") return "RUB";
  for (const entry of CURRENCY_WORDS) {
    if ((side === "after" || entry.before) && matchesWord(token.lower, entry.exact, entry.stems)) {
      return entry.code;
    }
  }
  return null;
}

function isBalanceKeyword(token: Token): boolean {
  return token.kind === "word" && matchesWord(token.lower, BALANCE_WORDS, BALANCE_STEMS);
}

function isSecondaryKeyword(token: Token): boolean {
  return token.kind === "word" && matchesWord(token.lower, [], SECONDARY_STEMS);
}

function isUnit(token: Token | undefined): boolean {
  return token !== undefined && token.kind === "word" && matchesWord(token.lower, UNIT_WORDS, UNIT_STEMS);
}

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === "punct" && token.text === text;
}

function adjacent(left: Token | undefined, right: Token | undefined): boolean {
  return left !== undefined && right !== undefined && left.end === right.start;
}

/** The currency on either side of the number at `index`, and whether it stands before the number. */
function currencyAround(tokens: Token[], index: number): { code: string; before: boolean } | null {
  const after = currencyOf(tokens[index + 1], "after");
  if (after !== null) return { code: after, before: false };
  // `Rs. 45` and `Rs.45`: a dot may sit between a prefix currency and its number.
  const previous = isPunct(tokens[index - 1], ".") ? tokens[index - 2] : tokens[index - 1];
  const before = currencyOf(previous, "before");
  return before === null ? null : { code: before, before: true };
}

function isCandidate(tokens: Token[], index: number): boolean {
  const token = tokens[index];
  if (token.kind !== "number" || token.tainted) return false;
  if (isUnit(tokens[index + 1])) return false;
  // A number glued to a word (`A1`, `3x`) is a name, unless the word is its currency (`Rp12.500`, `150руб`).
  const previous = tokens[index - 1];
  if (previous?.kind === "word" && adjacent(previous, token) && currencyOf(previous, "before") === null) {
    return false;
  }
  const next = tokens[index + 1];
  return !(next?.kind === "word" && adjacent(token, next) && currencyOf(next, "after") === null);
}

/** Score of the keyword context before `index`: closer balance keywords help, bonus words hurt. */
function keywordScore(tokens: Token[], index: number, candidates: ReadonlySet<number>): number | null {
  for (let k = index - 1; k >= 0 && index - k <= KEYWORD_REACH; k--) {
    if (candidates.has(k)) return null; // another amount sits between the keyword and this number
    if (isSecondaryKeyword(tokens[k])) return -40;
    if (isBalanceKeyword(tokens[k])) return 50 - (index - k);
  }
  return null;
}

function findBalance(tokens: Token[]): { balance: number; currency: string | null } | null {
  const candidates = new Set(tokens.map((_, index) => index).filter((index) => isCandidate(tokens, index)));
  let best: { index: number; score: number; currency: { code: string; before: boolean } | null } | null =
    null;
  for (const index of candidates) {
    const currency = currencyAround(tokens, index);
    const keyword = keywordScore(tokens, index, candidates);
    if (currency === null && (keyword === null || keyword < 0)) continue;
    const score = (currency === null ? 0 : 100) + (keyword ?? 0);
    if (best === null || score > best.score) best = { index, score, currency };
  }
  if (best === null) return null;

  const number = tokens[best.index] as NumberToken;
  let balance = number.value;
  if (best.currency?.before === true && isMinusBefore(tokens, best.index)) balance = -Math.abs(balance);
  if (isMinusWordBefore(tokens, best.index, best.currency?.before === true)) balance = -Math.abs(balance);
  if (best.currency !== null && !best.currency.before && number.integer) {
    balance = addMinorUnits(tokens, best.index, balance);
  }
  return { balance, currency: best.currency?.code ?? null };
}

/** `минус 15 руб.`, `minus $5`: a word before the number (or before its prefix currency) says minus. */
function isMinusWordBefore(tokens: Token[], index: number, currencyBefore: boolean): boolean {
  let k = index - 1;
  if (currencyBefore) k -= isPunct(tokens[k], ".") ? 2 : 1;
  const word = tokens[k];
  return word?.kind === "word" && MINUS_WORDS.includes(word.lower);
}

/** `-$5.00`: the minus sits before the currency symbol rather than the digits. */
function isMinusBefore(tokens: Token[], index: number): boolean {
  const symbol = tokens[index - 1];
  const minus = tokens[index - 2];
  return isPunct(minus, "-") && adjacent(minus, symbol) &&
    tokens[index - 3]?.kind !== "number";
}

/** `150 руб. 25 коп.`: Russian and Ukrainian operators sometimes spell the kopecks out separately. */
function addMinorUnits(tokens: Token[], index: number, balance: number): number {
  let k = index + 2;
  if (isPunct(tokens[k], ".")) k++;
  const minor = tokens[k];
  const unit = tokens[k + 1];
  if (minor?.kind !== "number" || minor.tainted || !minor.integer || minor.value < 0 || minor.value > 99) {
    return balance;
  }
  if (unit?.kind !== "word" || !unit.lower.startsWith("коп")) return balance;
  const sign = balance < 0 ? -1 : 1;
  return Math.round((balance + sign * minor.value / 100) * 100) / 100;
}

/**
 * Unwraps the forms trackers forward a USSD reply in, before {@link parseUssdBalance} reads it:
 * - the modem's raw AT answer `+CUSD: 0,"<text>",15` (3GPP TS 27.007 §7.15) becomes `<text>`;
 * - UCS-2 as hex (`0411043004BB…`, what modems print in UCS2 character-set mode, DCS 72) is decoded.
 *   Without the DCS, hex is only decoded when at least half of its code units fall in the Latin,
 *   Cyrillic or Arabic blocks, so that a reply that merely looks like hex (`12345678`) stays as it is.
 */
export function decodeUssdText(raw: string): string {
  let text = raw.trim();
  let dcs: number | null = null;
  // The `+` is optional: firmware that puts the line in a query string unencoded has it read as a space.
  const cusd = /^\+?CUSD:\s*\d+\s*,\s*"([\s\S]*)"\s*(?:,\s*(\d+))?\s*$/i.exec(text);
  if (cusd) {
    text = cusd[1];
    dcs = cusd[2] === undefined ? null : Number(cusd[2]);
  }
  if (/^(?:[0-9A-Fa-f]{4})+$/.test(text) && (dcs === 72 || text.length >= 8)) {
    const units = text.match(/.{4}/g)!.map((h) => parseInt(h, 16));
    const common = units.filter((u) => [0x00, 0x04, 0x06].includes(u >> 8)).length;
    const printable = units.every((u) =>
      u >= 0x20 && (u < 0xd800 || u > 0xdfff) && u !== 0xfffe && u !== 0xffff
    );
    if (printable && (dcs === 72 || common * 2 >= units.length)) text = String.fromCharCode(...units);
  }
  return text;
}
