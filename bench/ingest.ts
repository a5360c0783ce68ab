import { pino } from 'pino';
import { FakeEia, regionRows, type FakeRow } from '../test/support/fake-eia-server.ts';
import { EiaClient } from '../src/ingest/eia-client.ts';
import { ingestRange } from '../src/ingest/ingest-range.ts';
import type { EiaRoute } from '../src/ingest/eia-schema.ts';
import { listBas, type BalancingAuthority } from '../src/grid/ba-repository.ts';
import { dropBenchSchema, envInt, fmt, openBenchSchema, printTable, timed } from './support.ts';

const SCHEMA = 'bench_ingest';
const ROUTES: EiaRoute[] = ['region', 'fuel', 'interchange'];
const FUELS = ['COL', 'NG', 'NUC', 'OIL', 'WAT', 'SUN', 'WND', 'OTH'];
const HOUR = 3_600_000;

const label = (firstHourEnding: Date, h: number) => new Date(firstHourEnding.getTime() + h * HOUR).toISOString().slice(0, 13);
const wave = (h: number, base: number) => String(Math.round(base + base * 0.3 * Math.sin(h / 3.8)));

/** EIA-format rows for every BA: region (no D/DF for generation-only BAs), eight fuels, five neighbours. */
function eiaRows(bas: BalancingAuthority[], firstHourEnding: Date, hours: number): FakeEia['rows'] {
  const region: FakeRow[] = [];
  const fuel: FakeRow[] = [];
  const interchange: FakeRow[] = [];
  bas.forEach((ba, i) => {
    region.push(...regionRows(ba.code, firstHourEnding, hours, (h, t) => wave(h, 5000 + i * 10 + t.length))
      .filter((r) => !ba.generationOnly || (r.type !== 'D' && r.type !== 'DF')));
    for (let h = 0; h < hours; h++) {
      const period = label(firstHourEnding, h);
      for (const f of FUELS) fuel.push({ period, respondent: ba.code, 'respondent-name': ba.name, fueltype: f, 'type-name': f, value: wave(h, 300 + f.length * 50), 'value-units': 'megawatthours' });
      for (let k = 1; k <= 5; k++) {
        const to = bas[(i + k) % bas.length]!.code;
        interchange.push({ period, fromba: ba.code, 'fromba-name': ba.name, toba: to, 'toba-name': to, value: wave(h, 100 * k), 'value-units': 'megawatthours' });
      }
    }
  });
  return { region, fuel, interchange };
}

/**
 * The ingest: 24 hours of every route for every active BA from a local EIA-format server
 * (rate limiter off, pages of 5,000 rows), through ingestRange with a real EiaClient, into a fresh
 * schema; then the same day again (nothing changes). Reference: the same requests fetched and
 * parsed by the same client without storing anything (the network + JSON + validation floor).
 */
export async function benchIngest(): Promise<void> {
  const hours = envInt('BENCH_INGEST_HOURS', 24);
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  const eia = new FakeEia();
  const logger = pino({ level: 'silent' });
  try {
    const bas = await listBas(db);
    const firstHourEnding = new Date(Date.UTC(2025, 6, 1, 1));
    Object.assign(eia.rows, eiaRows(bas, firstHourEnding, hours));
    const rows = eia.rows.region.length + eia.rows.fuel.length + eia.rows.interchange.length;
    const baseUrl = await eia.start();
    const client = () => new EiaClient({ baseUrl, apiKey: 'bench-key-0000', logger, minIntervalMs: 0 });
    const req = { bas: bas.map((b) => b.code), from: new Date(firstHourEnding.getTime() - HOUR), to: new Date(firstHourEnding.getTime() + (hours - 2) * HOUR), routes: ROUTES };
    console.log(`ingest bench: ${bas.length} active BAs, ${hours} h, ${fmt(rows)} EIA rows on a local server`);

    const fetchOnly = await timed(async () => {
      const c = client();
      let n = 0;
      for (const route of ROUTES) for await (const page of c.fetch(route, { bas: req.bas, from: req.from, to: req.to })) n += page.length;
      return { n, requests: c.stats.requests };
    });
    const first = await timed(() => ingestRange({ db, client: client(), logger }, req));
    const again = await timed(() => ingestRange({ db, client: client(), logger }, req));
    for (const run of [first.result, again.result]) if (run.errors.length) throw new Error(`ingest errors: ${run.errors.join('; ')}`);
    if (first.result.inserted !== rows || again.result.inserted + again.result.updated !== 0) {
      throw new Error(`unexpected counts: first ${first.result.inserted} inserted of ${rows}, re-run ${again.result.inserted}/${again.result.updated}`);
    }
    const line = (what: string, ms: number, requests: number) =>
      [what, fmt(ms / 1000, 2), fmt(rows / (ms / 1000)), fmt(requests), fmt(fetchOnly.ms / 1000, 2), fmt(fetchOnly.ms / ms, 2), ms < 30_000 ? 'yes' : 'NO'];
    printTable(`Ingest ${hours} h of every route for ${bas.length} BAs (${fmt(rows)} rows) from a local EIA-format server`,
      ['work', 'wall s', 'rows/s', 'requests', 'reference: fetch + parse only, s', 'ratio', 'under 30 s'], [
        line('first ingest into an empty store (series created, rollups, checks)', first.ms, first.result.requests),
        line('same day again (nothing changes)', again.ms, again.result.requests),
      ]);
  } finally {
    await eia.stop();
    await dropBenchSchema(db, SCHEMA);
    await db.close();
  }
}
