/** The version reported by /health/detailed. */
export const VERSION = "0.1.0";
