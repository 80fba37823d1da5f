/** The flows this server offers; the flows branch registers vehicle-lookup, api-access and exam-booking here. */
import type { Flow } from "../flow.ts";

/** Every built-in flow, in the order GET /api/v1/flows lists them. */
export const flows: Flow[] = [];
