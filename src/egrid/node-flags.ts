/**
 * Node flags of a process that imports eGRID files (`gridpulse egrid import`, set by bin/gridpulse.mjs).
 * V8 sizes the young generation up to tens of MB per semi-space; an import allocates one short-lived
 * row after another, so a 4 MB semi-space keeps its RSS near 200 MB whatever the file size, at no
 * measured cost in speed (bench/egrid-import.ts).
 */
export const EGRID_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
