import { readFileSync } from 'node:fs';
import { loadConfig } from '../platform/config.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { parsePriceFile } from '../fleet/prices/price-files.ts';
import { importPrices } from '../fleet/prices/price-repository.ts';

export interface PricesImportOptions { node?: string; ba?: string; json?: boolean }

/**
 * `gridpulse prices import FILE --node NAME [--ba CODE]`: stores an hourly price file (plain CSV `ts,price` or a
 * PJM Data Miner hourly LMP export; src/fleet/prices/price-files.ts) as the price series `<BA>.price.<NODE>`
 * ($/MWh). The BA defaults to PJM for a PJM export and is required otherwise; the node defaults to the file's
 * pnode. Exit 0 when every row loaded, 2 when some were rejected (listed on stderr), 1 when nothing loaded.
 */
export async function pricesImportCommand(file: string, opts: PricesImportOptions): Promise<number> {
  const parsed = parsePriceFile(readFileSync(file, 'utf8'));
  const ba = (opts.ba ?? (parsed.format === 'csv' ? undefined : 'PJM'))?.toUpperCase();
  if (!ba) throw new RangeError('--ba CODE is required for a plain CSV (a PJM export defaults to PJM)');
  const node = opts.node ?? parsed.node;
  if (!node) throw new RangeError('--node NAME is required (the file names no node)');
  for (const r of parsed.rejected.slice(0, 20)) process.stderr.write(`line ${r.line}: ${r.reason}\n`);
  if (parsed.points.length === 0) { process.stderr.write(`${file}: no prices to import\n`); return 1; }
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    const r = await importPrices(db, ba, node, parsed.points);
    const summary = { ...r, format: parsed.format, hours: parsed.points.length, superseded: parsed.superseded, rejected: parsed.rejected.length, conflicts: parsed.conflicts };
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n`
      : `${r.series}: ${parsed.points.length} hours ${r.from?.toISOString()} → ${r.to?.toISOString()} (${r.inserted} new, ${r.updated} changed; ${parsed.superseded} superseded rows skipped, ${parsed.rejected.length} rejected, ${parsed.conflicts} conflicting repeats)\n`);
    return parsed.rejected.length ? 2 : 0;
  } finally {
    await db.close();
  }
}
