/** One hour in milliseconds: observations are hourly, keyed by the UTC start of their hour. */
export const HOUR_MS = 3_600_000;

/** An ISO 8601 instant with its zone (Z or an offset): never read in the server's local zone. */
export const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
