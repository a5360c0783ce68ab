import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLANT_COLUMNS } from '../src/egrid/columns.ts';
import { EGRID_NODE_FLAGS } from '../src/egrid/node-flags.ts';
import { BENCH_URL, dropBenchSchema, envInt, fmt, loadAverage, openBenchSchema, seeded, timed } from './support.ts';

const SCHEMA = 'bench_egrid';
// the eGRID2022 plant sheet's columns the store does not map (kept in `extra`), so the file is as wide as EPA's (141)
const UNMAPPED = ['RMBMFLAG', 'USETHRMO', 'PWRTOHT', 'ELCALLOC', 'PSFLAG', 'PLNOXRO', 'PLNOXCRT', 'PLNOXCRO', 'PLSO2CRT', 'PLCO2CRT', 'PLCH4CRT',
  'PLN2OCRT', 'PLC2ECRT', 'PLHGCRT', 'UNNOX', 'UNNOXOZ', 'UNSO2', 'UNCO2', 'UNCH4', 'UNN2O', 'UNHG', 'UNHTI', 'UNHTIOZ', 'UNHTIT', 'UNHTIOZT',
  'UNNOXSRC', 'UNNOZSRC', 'UNSO2SRC', 'UNCO2SRC', 'UNCH4SRC', 'UNN2OSRC', 'UNHGSRC', 'UNHTISRC', 'UNHOZSRC', 'BIONOX', 'BIONOXOZ', 'BIOSO2',
  'BIOCO2', 'BIOCH4', 'BION2O', 'CHPCHTI', 'CHPCHTIOZ', 'CHPNOX', 'CHPNOXOZ', 'CHPSO2', 'CHPCO2', 'CHPCH4', 'CHPN2O'];

/**
 * Writes an eGRID-format plant CSV (the PLNT22 code row, one row per plant, values in the forms the
 * real files use: "1,234.5" with separators, (negatives), 4e-05, '--', empty cells) of about `bytes`.
 */
export async function writePlantCsv(file: string, bytes: number): Promise<number> {
  const rand = seeded(13);
  const codes = ['SEQPLT50', 'YEAR', ...PLANT_COLUMNS.filter((c) => c.code !== 'SEQPLT').map((c) => c.code), ...UNMAPPED];
  const types = new Map(PLANT_COLUMNS.map((c) => [c.code, c.type]));
  const out = createWriteStream(file);
  let written = 0;
  const write = async (s: string) => { written += Buffer.byteLength(s); if (!out.write(s)) await once(out, 'drain'); };
  await write(codes.join(',') + '\n');
  let rows = 0;
  while (written < bytes) {
    rows++;
    const cells = codes.map((code) => {
      switch (code) {
        case 'SEQPLT50': return String(rows);
        case 'YEAR': return '2050';
        case 'ORISPL': return String(rows);
        case 'PSTATABB': return 'IA';
        case 'PNAME': return `"Plant ${rows}, Unit A"`;
        case 'BACODE': return 'MISO';
        case 'SUBRGN': return 'MROW';
        case 'PLFUELCT': return 'GAS';
        case 'PLPRMFL': return 'NG';
        case 'UNHGSRC': return '--';
        case 'FIPSST': return '19';
        case 'FIPSCNTY': return '153';
        case 'LAT': return (40 + rand() * 4).toFixed(6);
        case 'LON': return (-96 + rand() * 5).toFixed(6);
        default: {
          const r = rand();
          if (r < 0.25) return '';
          const type = types.get(code) ?? 'number';
          if (type === 'integer') return String(Math.floor(r * 90_000));
          if (type === 'text' || type === 'upper') return r < 0.5 ? 'Northern States Power Co' : 'EIA';
          if (type === 'flag') return 'Yes';
          if (code.endsWith('PR') || code === 'CAPFAC') return r < 0.3 ? '4e-05' : (r - 0.3).toFixed(5);
          if (code.endsWith('SRC')) return 'EIA';
          const n = (r - 0.35) * 1e6;
          return n < 0 && r < 0.4 ? `"(${Math.abs(n).toLocaleString('en-US', { maximumFractionDigits: 3 })})"` : n.toFixed(3);
        }
      }
    });
    await write(cells.join(',') + '\n');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

/**
 * Imports a generated ~100 MB eGRID plant CSV into PostgreSQL through the real import job (csv-parse,
 * per-row parsing, COPY into staging, replace in one transaction), sampling RSS; the reference is
 * `psql \copy` of the same file into a bare table of text columns, in the same run.
 */
export async function benchEgridImport(): Promise<void> {
  const mb = envInt('BENCH_EGRID_MB', 100);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-egrid-'));
  const file = path.join(dir, 'egrid2050_PLNT50.csv');
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  try {
    const rows = await writePlantCsv(file, mb * 1024 * 1024);
    const size = statSync(file).size;
    console.log(`egrid import bench: ${fmt(size / 1024 / 1024, 1)} MB, ${fmt(rows)} plant rows × ${PLANT_COLUMNS.length + UNMAPPED.length + 1} columns; ${loadAverage()}`);

    const header = (await import('node:fs')).readFileSync(file, 'utf8').slice(0, 8192).split('\n')[0]!.split(',');
    await db.query(`CREATE TABLE bare (${header.map((c) => `"${c.toLowerCase()}" text`).join(', ')})`);
    const psql = await timed(async () => execFileSync('psql', [BENCH_URL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${SCHEMA}.bare FROM '${file}' WITH (FORMAT csv, HEADER true)`]));
    const [copied] = await db.query<{ n: string }>('SELECT count(*) AS n FROM bare');

    // the import as `gridpulse egrid import` runs it: its own process, with the young-generation cap bin/gridpulse.mjs gives it
    const url = new URL(BENCH_URL);
    url.searchParams.set('options', `-c search_path=${SCHEMA}`);
    const child = execFileSync(process.execPath, [...EGRID_NODE_FLAGS, fileURLToPath(new URL('./egrid-import-child.ts', import.meta.url)), url.toString(), file], { encoding: 'utf8' });
    const out = JSON.parse(child.trim().split('\n').pop()!) as { ms: number; rowsLoaded: number; rowsRejected: number; status: string; firstError?: unknown; maxRssKb: number; cpuMs: number };
    const psqlRate = Number(copied!.n) / (psql.ms / 1000);
    const rate = out.rowsLoaded / (out.ms / 1000);
    if (out.firstError) console.log(`  first row error: ${JSON.stringify(out.firstError)}`);
    console.log(`  psql \\copy (bare text table): ${fmt(Number(copied!.n))} rows in ${fmt(psql.ms / 1000, 2)} s = ${fmt(psqlRate)} rows/s`);
    console.log(`  gridpulse egrid import:       ${fmt(out.rowsLoaded)} rows in ${fmt(out.ms / 1000, 2)} s = ${fmt(rate)} rows/s (${out.status}, ${out.rowsRejected} rejected; ${fmt(out.cpuMs / 1000, 1)} s CPU in the import process, all its threads)`);
    console.log(`  ratio import / psql \\copy = ${fmt(rate / psqlRate, 2)} (target ≥ 0.30); peak RSS of the import process ${fmt(out.maxRssKb / 1024)} MB (target < 300 MB); ${loadAverage()}`);
  } finally {
    await dropBenchSchema(db, SCHEMA);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
