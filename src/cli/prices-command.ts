import { readFileSync } from 'node:fs';
import { loadConfig } from '../platform/config.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { marketOfFormat, parsePriceFile, readFailure } from '../fleet/prices/price-files.ts';
import { importPrices, nodeSubtype, PRICE_MARKETS, type PriceMarket } from '../fleet/prices/price-repository.ts';

export interface PricesImportOptions { node?: string; ba?: string; market?: string; json?: boolean }

/** A file argument's text, or a one-line error naming the option (`FILE`, `--prices` …) when it cannot be read. */
export function readOptionFile(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RangeError(`${option}: cannot read '${file}' (${readFailure(err)})`, { cause: err });
  }
}

/** A `--node` option: the node as a series subtype check (nodeSubtype), or a one-line error naming the option. */
export function checkNodeOption(text: string): void {
  try { nodeSubtype(text); } catch (err) { throw new RangeError(`--node: ${(err as Error).message}`, { cause: err }); }
}

/** `--market da|rt`, or undefined when not given; a one-line error naming the option otherwise. */
export function parseMarketOption(text: string | undefined): PriceMarket | undefined {
  if (text === undefined) return undefined;
  const m = text.trim().toLowerCase();
  if (!(PRICE_MARKETS as readonly string[]).includes(m)) throw new RangeError(`--market: da (day-ahead) or rt (real-time), got '${text}'`);
  return m as PriceMarket;
}

/**
 * `gridpulse prices import FILE --node NAME [--ba CODE] [--market da|rt]`: stores an hourly price file (plain CSV
 * `ts,price` or a PJM Data Miner hourly LMP export; src/fleet/prices/price-files.ts) as the price series of its
 * node and market ($/MWh): `<BA>.price.<NODE>` day-ahead, `<BA>.price.<NODE>.RT` real-time (priceSeriesKey). A PJM
 * export's market is its price column (total_lmp_da or total_lmp_rt; a contradicting --market is refused); a plain
 * CSV needs --market. The BA defaults to PJM for a PJM export and is required otherwise; the node defaults to the
 * file's pnode. Exit 0 when every row loaded, 2 when some were rejected (listed on stderr), 1 when nothing loaded;
 * a bad option throws a one-line error naming it.
 */
export async function pricesImportCommand(file: string, opts: PricesImportOptions): Promise<number> {
  const given = parseMarketOption(opts.market);
  if (opts.ba !== undefined && !/^[A-Za-z0-9_-]{2,16}$/.test(opts.ba)) throw new RangeError(`--ba: a balancing authority code such as PJM, got '${opts.ba}'`);
  if (opts.node !== undefined) checkNodeOption(opts.node);
  const parsed = parsePriceFile(readOptionFile('FILE', file));
  const detected = marketOfFormat(parsed.format);
  if (detected && given && detected !== given) throw new RangeError(`--market: the file is a PJM ${detected === 'da' ? 'day-ahead (total_lmp_da)' : 'real-time (total_lmp_rt)'} export, not --market ${given}`);
  const market = detected ?? given;
  if (!market) throw new RangeError('--market da|rt is required for a plain CSV (day-ahead and real-time prices of a node are two series)');
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
    const r = await importPrices(db, ba, node, parsed.points, market).catch((err: unknown) => {
      throw err instanceof RangeError && /balancing authority/.test(err.message) ? new RangeError(`--ba: ${err.message}`) : err;
    });
    const summary = { ...r, format: parsed.format, hours: parsed.points.length, superseded: parsed.superseded, rejected: parsed.rejected.length, conflicts: parsed.conflicts };
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n`
      : `${r.series} (${market === 'da' ? 'day-ahead' : 'real-time'}): ${parsed.points.length} hours ${r.from?.toISOString()} → ${r.to?.toISOString()} (${r.inserted} new, ${r.updated} changed; ${parsed.superseded} superseded rows skipped, ${parsed.rejected.length} rejected, ${parsed.conflicts} conflicting repeats)\n`);
    return parsed.rejected.length ? 2 : 0;
  } finally {
    await db.close();
  }
}
