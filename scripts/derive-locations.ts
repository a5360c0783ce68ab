/**
 * Re-derives src/locate/locations.json.gz from the public crosswalks (see src/locate/derive.ts and
 * docs/locations.md). Usage: node scripts/derive-locations.ts [SHARED_DATA_DIR]  (default ../shared/data)
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { deriveLocationTable } from '../src/locate/derive.ts';
import { LOCATION_TABLE_FILE } from '../src/locate/locate.ts';

const dataDir = path.resolve(process.argv[2] ?? '../shared/data');
const started = Date.now();
const table = await deriveLocationTable(dataDir);
const json = JSON.stringify(table);
writeFileSync(LOCATION_TABLE_FILE, gzipSync(json, { level: 9 }));
process.stdout.write(`${Object.keys(table.zips).length} ZIPs, ${Object.keys(table.counties).length} counties, ${Object.keys(table.states).length} states ` +
  `→ ${LOCATION_TABLE_FILE} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
