/** Phone login codes: issue, rate-limit, send and verify (Twilio-Verify-grade limits). */
import { and, count, desc, eq, gt, lt, min, sql } from "drizzle-orm";
import { otpCodes, otpRequests } from "../../db/schema.ts";
import { startSession, type TokenPair } from "../auth/sessions.ts";
import { findOrCreateUser } from "../auth/users.ts";
import { secondsUntil } from "../clock.ts";
import { constantTimeEqual, hmacHex, randomDigits } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import { BadGatewayError, TooManyRequestsError, UnauthorizedError, ValidationError } from "../errors.ts";
import { toE164 } from "./phone.ts";
import { SmsError } from "./sms.ts";

const HOUR_MS = 3600_000;

/** Reads a phone number in E.164 or national form, or throws a 422 naming `field`. */
export function parsePhone(deps: Pick<Deps, "config">, input: string, field = "phone"): string {
  const e164 = toE164(input, deps.config.DEFAULT_REGION);
  if (!e164) {
    const hint = deps.config.DEFAULT_REGION ? "" : " (use the international +<country code> form)";
    throw new ValidationError([{ field, message: `Not a valid phone number${hint}` }]);
  }
  return e164;
}

/**
 * Issues a new code for `phone` and sends it by SMS, enforcing cooldown and hourly caps per number and per IP.
 * `codeLength` overrides OTP_LENGTH for clients with a fixed PIN field (the SmartYard apps: 4).
 */
export async function requestCode(
  deps: Deps,
  input: { phone: string; ip: string; codeLength?: number },
): Promise<{ expires_in: number; resend_in: number }> {
  const { config, clock, db } = deps;
  const phone = parsePhone(deps, input.phone);
  const now = clock.now();
  const hourAgo = new Date(now.getTime() - HOUR_MS);
  const code = randomDigits(input.codeLength ?? config.OTP_LENGTH);

  await db.transaction(async (tx) => {
    // Serialise requests for one number so two racing requests cannot both pass the cooldown.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"otp:" + phone}))`);
    const [ipUse] = await tx.select({ first: min(otpRequests.createdAt), n: count() }).from(otpRequests)
      .where(and(eq(otpRequests.ip, input.ip), gt(otpRequests.createdAt, hourAgo)));
    if (ipUse.n >= config.OTP_IP_MAX_PER_HOUR && ipUse.first) {
      throw new TooManyRequestsError(
        "Too many code requests from this address; try again later",
        secondsUntil(now, new Date(ipUse.first.getTime() + HOUR_MS)),
      );
    }
    const sent = await tx.select({ at: otpRequests.createdAt }).from(otpRequests)
      .where(
        and(eq(otpRequests.phone, phone), eq(otpRequests.sent, true), gt(otpRequests.createdAt, hourAgo)),
      )
      .orderBy(desc(otpRequests.createdAt));
    if (sent.length && now.getTime() - sent[0].at.getTime() < config.OTP_RESEND_S * 1000) {
      throw new TooManyRequestsError(
        "A code was sent to this number moments ago; wait before asking again",
        secondsUntil(now, new Date(sent[0].at.getTime() + config.OTP_RESEND_S * 1000)),
      );
    }
    if (sent.length >= config.OTP_MAX_PER_HOUR) {
      throw new TooManyRequestsError(
        "Too many codes were sent to this number; try again later",
        secondsUntil(now, new Date(sent[sent.length - 1].at.getTime() + HOUR_MS)),
      );
    }
    await tx.insert(otpRequests).values({ phone, ip: input.ip, sent: true, createdAt: now });
    const row = {
      codeHash: codeHash(deps, phone, code),
      attempts: 0,
      createdAt: now,
      expiresAt: new Date(now.getTime() + config.OTP_TTL_S * 1000),
    };
    await tx.insert(otpCodes).values({ phone, ...row }).onConflictDoUpdate({
      target: otpCodes.phone,
      set: row,
    });
  });

  try {
    await deps.sms.send(phone, config.OTP_MESSAGE.replaceAll("{code}", code));
  } catch (err) {
    // A failed or timed-out send still counts against the number's cooldown and hourly cap (else a broken
    // gateway becomes an SMS pump), and its code is deleted: a text that arrives late carries a dead code.
    await db.delete(otpCodes).where(and(eq(otpCodes.phone, phone), eq(otpCodes.createdAt, now)));
    const reason = err instanceof SmsError ? err.message : "SMS provider failed";
    deps.log.warn("otp send failed", { provider: deps.sms.name, reason });
    throw new BadGatewayError(
      `The code could not be sent: ${reason}. If a text still arrives, its code will not work; ` +
        `request a new code in ${config.OTP_RESEND_S} s`,
      config.OTP_RESEND_S,
    );
  }
  deps.events.emit("otp.sent", { phone }, now);
  return { expires_in: config.OTP_TTL_S, resend_in: config.OTP_RESEND_S };
}

/**
 * `POST /api/otprequest` of the old mobile apps: requestCode with codes of LEGACY_OTP_LENGTH digits (the
 * old backends sent 4), the same limits, and a code that /api/v1/otp/verify accepts too.
 */
export function requestLegacyCode(
  deps: Deps,
  input: { phone: string; ip: string },
): Promise<{ expires_in: number; resend_in: number }> {
  return requestCode(deps, { ...input, codeLength: deps.config.LEGACY_OTP_LENGTH });
}

/** Checks a code; on success consumes it, creates the user on first login and starts a session. */
export async function verifyCode(deps: Deps, input: { phone: string; code: string }): Promise<TokenPair> {
  const { config, clock, db } = deps;
  const phone = parsePhone(deps, input.phone);
  const now = clock.now();
  // Count the attempt atomically before comparing, so parallel guesses cannot exceed the limit.
  const [row] = await db.update(otpCodes).set({ attempts: sql`${otpCodes.attempts} + 1` })
    .where(and(
      eq(otpCodes.phone, phone),
      lt(otpCodes.attempts, config.OTP_MAX_ATTEMPTS),
      gt(otpCodes.expiresAt, now),
    ))
    .returning({ codeHash: otpCodes.codeHash, attempts: otpCodes.attempts });
  if (!row) throw await noLiveCode(deps, phone, now);
  const attemptsLeft = config.OTP_MAX_ATTEMPTS - row.attempts;
  if (!constantTimeEqual(row.codeHash, codeHash(deps, phone, input.code.trim()))) {
    throw new UnauthorizedError(
      attemptsLeft > 0 ? "The code is wrong" : "The code is wrong and has been burned; request a new code",
      { attempts_left: attemptsLeft },
    );
  }
  const consumed = await db.delete(otpCodes)
    .where(and(eq(otpCodes.phone, phone), eq(otpCodes.codeHash, row.codeHash))).returning({
      phone: otpCodes.phone,
    });
  if (!consumed.length) {
    throw new UnauthorizedError("The code is invalid or expired; request a new code", { attempts_left: 0 });
  }
  const user = await findOrCreateUser(deps, phone);
  return await startSession(deps, user);
}

/** Why no code could be checked: a burned code is a 429 until a new one may be requested, else a 401. */
async function noLiveCode(deps: Deps, phone: string, now: Date): Promise<Error> {
  const [code] = await deps.db.select({ attempts: otpCodes.attempts, createdAt: otpCodes.createdAt })
    .from(otpCodes).where(and(eq(otpCodes.phone, phone), gt(otpCodes.expiresAt, now))).limit(1);
  if (code && code.attempts >= deps.config.OTP_MAX_ATTEMPTS) {
    const resendAt = new Date(code.createdAt.getTime() + deps.config.OTP_RESEND_S * 1000);
    return new TooManyRequestsError(
      "Too many wrong codes: this code is burned; request a new code",
      Math.max(1, secondsUntil(now, resendAt)),
    );
  }
  return new UnauthorizedError("The code is invalid or expired; request a new code", { attempts_left: 0 });
}

function codeHash(deps: Pick<Deps, "config">, phone: string, code: string): string {
  return hmacHex(`otp-v1:${deps.config.JWT_SECRET}`, `${phone}:${code}`);
}
