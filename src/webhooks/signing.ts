/**
 * Webhook signatures: Standard Webhooks v1 headers (every delivery) and the old booking server's
 * `X-Webhook-Signature: sha256=<hex>` (booking deliveries), plus the sealing of endpoint secrets at rest.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";

/** The key bytes of a secret: the decoded base64 of `whsec_…`, else the string's UTF-8 bytes. */
export function secretKey(secret: string): Uint8Array {
  if (secret.startsWith("whsec_")) {
    return Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
  }
  return new TextEncoder().encode(secret);
}

/** Signs `body` as Standard Webhooks v1: base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${
    createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest("base64")
  }`;
}

/** The booking frontend's signature: `sha256=` + hex HMAC-SHA256 of the raw body keyed by the plain string. */
export function signBooking(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** Seals and opens endpoint secrets with AES-256-GCM under a key derived from a server secret. */
export class SecretBox {
  readonly #key: Uint8Array;

  constructor(serverSecret: string) {
    this.#key = createHash("sha256").update(`gatehouse webhook secrets\0${serverSecret}`).digest();
  }

  /** `v1.<iv>.<tag>.<ciphertext>` in base64url. */
  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return ["v1", iv, cipher.getAuthTag(), data].map((p) =>
      typeof p === "string" ? p : p.toString("base64url")
    )
      .join(".");
  }

  /** The plain secret of `sealed`; throws when it was sealed under another key. */
  open(sealed: string): string {
    const [, iv, tag, data] = sealed.split(".").map((p) => Buffer.from(p, "base64url"));
    const decipher = createDecipheriv("aes-256-gcm", this.#key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
  }
}
