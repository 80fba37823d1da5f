/** The booking frontend's job ids (src/automation/legacy/booking_ids.ts): unguessable names of sessions. */
import assert from "node:assert/strict";
import { jobIdOf, sessionIdOf } from "../src/automation/legacy/booking_ids.ts";
import type { Config } from "../src/config.ts";

const deps = (secret: string) => ({ config: { JWT_SECRET: secret } as Config });
const A = deps("a-secret-of-at-least-32-characters-0001");
const B = deps("a-secret-of-at-least-32-characters-0002");

Deno.test("a job id is 43 base64url characters (256 bits) and names its session back", () => {
  const session = crypto.randomUUID();
  const jobId = jobIdOf(A, session);
  assert.match(jobId, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(sessionIdOf(A, jobId), session);
  assert.equal(jobIdOf(A, session), jobId, "the same session always has the same job id");
  assert.notEqual(jobIdOf(A, crypto.randomUUID()), jobId);
});

Deno.test("a job id cannot be made without the key: another key's, a tampered one or a session id is no job id", () => {
  const session = crypto.randomUUID();
  const jobId = jobIdOf(A, session);
  assert.equal(sessionIdOf(B, jobId), null, "made under another JWT_SECRET");
  assert.notEqual(jobIdOf(B, session), jobId);
  for (let i = 0; i < jobId.length; i++) {
    const c = jobId[i] === "A" ? "B" : "A";
    assert.equal(sessionIdOf(A, jobId.slice(0, i) + c + jobId.slice(i + 1)), null, `character ${i} changed`);
  }
  assert.equal(sessionIdOf(A, session), null);
  assert.equal(sessionIdOf(A, "job_abc123"), null);
  assert.equal(sessionIdOf(A, "x".repeat(43)), null);
});
