import { useEffect, useRef, type ReactNode } from 'react';
import type uPlot from 'uplot';
import { fmtInt, toCsv } from '../lib/format.ts';
import { chartDate, dateTimeLabel, timeAxisLabels } from '../lib/time.ts';

export interface ChartSeries { label: string; values: (number | null)[]; colour: string; fill?: boolean; dash?: number[] }

export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  ts: string[];
  series: ChartSeries[];
  /** draw series as a stacked area (generation by fuel) */
  stacked?: boolean;
  /** pairs of series indexes whose gap is filled (forecast band: low, high) */
  bands?: Array<[number, number]>;
  /** shaded time ranges (clean windows) */
  shade?: Array<{ start: string; end: string }>;
}

function cumulative(series: ChartSeries[]): (number | null)[][] {
  const acc = series[0]?.values.map(() => 0) ?? [];
  // An hour where no series has a value stays a gap, not a drop to zero.
  const empty = acc.map((_, i) => series.every((s) => s.values[i] === null || s.values[i] === undefined));
  return series.map((s) => s.values.map((v, i) => (empty[i] ? null : (acc[i]! += v ?? 0))));
}

function options(spec: ChartSpec, width: number, timeZone: string, colour: string): uPlot.Options {
  const grid = { stroke: 'rgba(128,128,128,0.25)', width: 1 };
  const axis = { stroke: colour, grid, ticks: grid };
  const raw = spec.series;
  const shadeHook = (u: uPlot) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = 'rgba(26, 152, 80, 0.18)';
    for (const s of spec.shade ?? []) {
      const x0 = u.valToPos(Date.parse(s.start) / 1000, 'x', true);
      const x1 = u.valToPos(Date.parse(s.end) / 1000, 'x', true);
      const left = Math.max(u.bbox.left, Math.min(x0, x1));
      const right = Math.min(u.bbox.left + u.bbox.width, Math.max(x0, x1));
      if (right > left) ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
    }
    ctx.restore();
  };
  return {
    width, height: 260, tzDate: (t) => chartDate(t * 1000, timeZone),
    scales: { x: { time: true } },
    // the time axis says the hour (and the day where it changes) in the page's zone: uPlot's default repeats ":00"
    axes: [{ ...axis, values: (_u: uPlot, splits: number[]) => timeAxisLabels(splits.map((x) => x * 1000), timeZone) }, { ...axis, label: spec.unit, size: 60 }],
    series: [
      { label: 'time' },
      ...raw.map((s, i) => ({
        label: s.label, stroke: s.colour, width: spec.stacked ? 1 : 2, points: { show: false }, ...(s.dash ? { dash: s.dash } : {}),
        ...(s.fill || spec.stacked ? { fill: `${s.colour}${spec.stacked ? 'cc' : '40'}` } : {}),
        value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => {
          const v = idx === null ? null : raw[i]!.values[idx];
          return fmtInt(v);
        },
      })),
    ],
    ...(spec.bands ? { bands: spec.bands.map(([a, b]) => ({ series: [b + 1, a + 1] as [number, number], fill: 'rgba(86,180,233,0.25)' })) } : {}),
    hooks: { drawClear: [shadeHook] },
  };
}

/** A uPlot canvas chart drawn after hydration; its numbers are in the table beside it for readers without JS. */
export function Chart({ spec, timeZone }: { spec: ChartSpec; timeZone: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: uPlot | undefined;
    let observer: ResizeObserver | undefined;
    let cancelled = false;
    void import('uplot').then(({ default: U }) => {
      const el = box.current;
      if (cancelled || !el) return;
      el.textContent = '';
      const x = spec.ts.map((t) => Date.parse(t) / 1000);
      const ys = spec.stacked ? cumulative(spec.series) : spec.series.map((s) => s.values);
      // Stacked areas: draw the tallest first so each lower layer paints over it.
      const order = spec.stacked ? [...ys.keys()].reverse() : [...ys.keys()];
      const specOrdered = { ...spec, series: order.map((i) => spec.series[i]!) };
      const data = [x, ...order.map((i) => ys[i]!)] as uPlot.AlignedData;
      plot = new U(options(specOrdered, el.clientWidth || 600, timeZone, getComputedStyle(el).color), data, el);
      observer = new ResizeObserver(() => plot?.setSize({ width: el.clientWidth, height: 260 }));
      observer.observe(el);
    });
    return () => { cancelled = true; observer?.disconnect(); plot?.destroy(); };
  }, [spec, timeZone]);
  return (
    <div ref={box} className="chart" data-chart={spec.id} role="img" aria-label={`${spec.title} chart; the same numbers are in the data table`}>
      <p className="chart-placeholder">The chart is drawn in the browser; every number is in the data table below.</p>
    </div>
  );
}

/** Chart, CSV download and data table: every chart on the site is wrapped in this. */
export function ChartBlock({ spec, timeZone, zoneLabel, note, step = 'hour' }: { spec: ChartSpec; timeZone: string; zoneLabel: string; note?: ReactNode; step?: string }) {
  const header = [`${step} start (${zoneLabel})`, ...spec.series.map((s) => `${s.label} (${spec.unit})`)];
  const rows = spec.ts.map((t, i) => [dateTimeLabel(t, timeZone), ...spec.series.map((s) => (s.values[i] === null || s.values[i] === undefined ? null : Math.round(s.values[i]!)))]);
  const csv = toCsv(['ts', ...spec.series.map((s) => s.label)], spec.ts.map((t, i) => [t, ...spec.series.map((s) => s.values[i] ?? null)]));
  return (
    <figure className="chart-block" id={spec.id}>
      <figcaption><h3>{spec.title}</h3>{note}</figcaption>
      {spec.ts.length === 0 ? <p className="empty">No {step}s in this range.</p> : <Chart spec={spec} timeZone={timeZone} />}
      <div className="chart-tools">
        <a download={`${spec.id}.csv`} href={`data:text/csv;charset=utf-8,${encodeURIComponent(csv)}`}>Download CSV</a>
        <details>
          <summary>Data table</summary>
          <div className="table-scroll">
            <table>
              <caption className="sr-only">{spec.title}</caption>
              <thead><tr>{header.map((h) => <th key={h} scope="col">{h}</th>)}</tr></thead>
              <tbody>{rows.map((r, i) => <tr key={spec.ts[i]}>{r.map((c, j) => (j === 0 ? <th key={j} scope="row">{c}</th> : <td key={j}>{fmtInt(c as number | null)}</td>))}</tr>)}</tbody>
            </table>
          </div>
        </details>
      </div>
    </figure>
  );
}
