/** One hour in milliseconds: observations are hourly, keyed by the UTC start of their hour. */
export const HOUR_MS = 3_600_000;

/** An ISO 8601 instant with its zone (Z or an offset): never read in the server's local zone. */
export const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * The span of time GridPulse reads or answers about: from 2000 (EIA-930 began on 2015-07-01; older public demand
 * studies reach a little further back) to the end of 2099. Every date or instant a client sends is checked against
 * it, so the year 0000, negative or six-digit years never reach date arithmetic or the database.
 */
export const ERA = { from: Date.UTC(2000, 0, 1), to: Date.UTC(2100, 0, 1) } as const;
export const ERA_TEXT = 'between 2000-01-01 and 2099-12-31';
export const inEra = (ms: number): boolean => ms >= ERA.from && ms < ERA.to;
