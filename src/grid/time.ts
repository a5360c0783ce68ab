/** One hour in milliseconds: observations are hourly, keyed by the UTC start of their hour. */
export const HOUR_MS = 3_600_000;
