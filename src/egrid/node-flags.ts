/**
 * Node flags of a process that imports eGRID files (`gridpulse egrid import`, set by bin/gridpulse.mjs).
 * V8 sizes the young generation up to tens of MB per semi-space; an import allocates one short-lived
 * row after another, so a 4 MB semi-space and a 192 MB old space (the live set is a batch of rows;
 * an XLSX's shared strings at most) keep its RSS bounded whatever the file size (bench/egrid-import.ts).
 */
export const EGRID_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=192'];
