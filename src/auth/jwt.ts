/** Access tokens: HS256 JWTs with pinned algorithm, issuer and audience (jose). */
import { errors, jwtVerify, SignJWT } from "jose";
import { makeRoom } from "../bounded.ts";
import type { Clock } from "../clock.ts";

/** What an access token says about its bearer. */
export interface AccessClaims {
  /** User id. */
  sub: string;
  /** Auth session (refresh-token family) id; logout revokes it. */
  sid: string;
}

/** Signs and verifies gatehouse JWTs with one secret. */
export class JwtKeys {
  readonly #key: Uint8Array;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #clock: Clock;
  /** cluster: tokens already verified (by audience and text) → their claims; a repeat costs a map lookup. */
  readonly #verified = new Map<string, AccessClaims & { exp: number }>();
  readonly #maxVerified = 20_000;

  constructor(secret: string, options: { issuer: string; audience: string; clock: Clock }) {
    this.#key = new TextEncoder().encode(secret);
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#clock = options.clock;
  }

  /** Signs an access token valid for `ttlS` seconds. */
  sign(
    claims: AccessClaims & Record<string, unknown>,
    ttlS: number,
    audience = this.#audience,
  ): Promise<string> {
    const now = Math.floor(this.#clock.now().getTime() / 1000);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(this.#issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlS)
      .setJti(crypto.randomUUID())
      .sign(this.#key);
  }

  /** Verifies a token; returns its claims, or null when it is invalid or expired. */
  async verify(token: string, audience = this.#audience): Promise<(AccessClaims & { exp: number }) | null> {
    const key = `${audience} ${token}`;
    const known = this.#verified.get(key);
    if (known) {
      if (known.exp * 1000 > this.#clock.now().getTime()) return known;
      this.#verified.delete(key);
      return null;
    }
    const claims = await this.#verifyNow(token, audience);
    // Only verified tokens are remembered, so garbage cannot fill the map; when full, the oldest tenth goes.
    if (claims && token.length <= 8192) {
      makeRoom(this.#verified, this.#maxVerified);
      this.#verified.set(key, claims);
    }
    return claims;
  }

  async #verifyNow(token: string, audience: string): Promise<(AccessClaims & { exp: number }) | null> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer: this.#issuer,
        audience,
        currentDate: this.#clock.now(),
      });
      if (
        typeof payload.sub !== "string" || typeof payload.sid !== "string" || typeof payload.exp !== "number"
      ) {
        return null;
      }
      return { ...payload, sub: payload.sub, sid: payload.sid, exp: payload.exp } as AccessClaims & {
        exp: number;
      };
    } catch (err) {
      if (err instanceof errors.JOSEError) return null;
      throw err;
    }
  }
}
