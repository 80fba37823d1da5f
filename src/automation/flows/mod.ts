/** The flows gatehouse ships with, driving the demo portal (or a real portal with the same pages). */
import type { Flow } from "../flow.ts";
import { apiAccess } from "./api_access.ts";
import { examBooking } from "./exam_booking.ts";
import { vehicleLookup } from "./vehicle_lookup.ts";

export { apiAccess, examBooking, vehicleLookup };

/** Every built-in flow, in the order they are listed to clients. */
export const builtinFlows: Flow[] = [vehicleLookup, apiAccess, examBooking];
