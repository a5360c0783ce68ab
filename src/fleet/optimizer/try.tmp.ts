import { readFileSync } from 'node:fs';
import { parsePriceFile } from '../prices/price-files.ts';
import { runBacktest } from './backtest.ts';
const f = parsePriceFile(readFileSync(process.argv[2]!, 'utf8'));
console.log(f.format, f.node, f.points.length, f.superseded, f.rejected.length, f.conflicts);
const days = Number(process.argv[3] ?? 30);
const start = Number(process.argv[5] ?? 0); const pts = f.points.slice(start * 24, (start + days) * 24);
const t0 = performance.now();
const r = await runBacktest({ hours: pts.map(p => p.ts), importPrice: pts.map(p => p.price / 1000), exportPrice: pts.map(p => p.price / 1000), loadKW: pts.map(() => 1), intensity: null,
  battery: { capacityKWh: 13.5, powerKW: 5, chargeEfficiency: Math.sqrt(0.9), dischargeEfficiency: Math.sqrt(0.9) }, timeZone: 'America/New_York', carbonPrice: 0, degradationCost: Number(process.argv[4] ?? 0) });
console.log(JSON.stringify(r, null, 1), performance.now() - t0);
