// The import run of bench/egrid-import.ts, in its own process with the CLI's heap flags, so its peak RSS is its own.
import { systemActor } from '../src/auth/audit.ts';
import { pino } from 'pino';
import { openDb } from '../src/platform/db.ts';
import { createImport, runImportJob } from '../src/egrid/import-jobs.ts';

const [url, file] = process.argv.slice(2) as [string, string];
const db = await openDb({ databaseUrl: url, dataDir: ':memory:' });
const importId = await createImport(db, { fileSha256: '0'.repeat(64), fileName: 'egrid2050_PLNT50.csv', source: 'cli' });
const t0 = performance.now();
const out = await runImportJob({ db, logger: pino({ level: 'warn' }), importId, actor: systemActor('bench'), path: file, fileName: 'egrid2050_PLNT50.csv' });
const ms = performance.now() - t0;
await db.close();
process.stdout.write(JSON.stringify({ ms, rowsLoaded: out?.rowsLoaded, rowsRejected: out?.rowsRejected, status: out?.status, firstError: out?.errors[0], maxRssKb: process.resourceUsage().maxRSS,
  cpuMs: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1000 }) + '\n');
