/** How devices name themselves and their type in firmware checks (every check protocol reads these). */
import { z } from "zod";

/** A device type as devices name it (`d=` on /fota.php, `device_type` elsewhere). */
export const deviceTypeSchema = z.string().trim().min(1).max(64).regex(
  /^[\w.-]+$/,
  "may hold only letters, digits, _ . and -",
);

/** A device id as sent: an IMEI, a MAC address or a serial. */
export const deviceIdSchema = z.string().trim().min(1).max(64).regex(
  /^[\w:.-]+$/,
  "may hold only letters, digits, _ : . and -",
);

/** The firmware version a device says it runs (read leniently; checks.ts decides whether it parses). */
export const reportedVersionSchema = z.string().trim().min(1).max(200);

/** A MAC address as ESP boards send it (`CC:50:E3:55:F6:07`). */
export const MAC = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/;

/** Device ids as stored: MAC addresses upper-case, everything else as sent. */
export function normaliseDeviceId(id: string): string {
  const t = id.trim();
  return MAC.test(t) ? t.toUpperCase() : t;
}
