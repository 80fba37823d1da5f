/** Staged rollouts: a stable bucket per (device, release), so every poll gets the same answer. */
import { createHash } from "node:crypto";

/**
 * The device's bucket for a release, 0–99: the first 32 bits of SHA-256(release id, device id) mod 100.
 * Hashing the release in means each release samples its own cohort (no device is always first), and
 * the bias of 2^32 mod 100 is below 1e-7.
 */
export function rolloutBucket(deviceId: string, releaseId: string): number {
  const digest = createHash("sha256").update(`${releaseId}\n${deviceId}`).digest();
  return digest.readUInt32BE(0) % 100;
}

/** True when the device falls inside a rollout of `percent` (0–100); raising the percentage only adds devices. */
export function inRollout(deviceId: string, releaseId: string, percent: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  return rolloutBucket(deviceId, releaseId) < percent;
}
