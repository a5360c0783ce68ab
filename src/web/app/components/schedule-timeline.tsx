import type { DevicePoint, Version } from '../lib/fleet-api.ts';
import { hourLabel } from '../lib/time.ts';

const COLOURS: Record<string, string> = { charge: '#1a7f37', discharge: '#b35900', idle: '#8c8c8c', 'hold-soc': '#3d5a99' };
const LANE = 26;
const LEFT = 150;
const WIDTH = 900;

/**
 * The schedule timeline, planned versus executed: on top, what the device reported doing (its telemetry's mode per
 * bucket, coloured like the actions); then per version (newest first, at most five) one lane of its planned intervals
 * coloured by action, and one lane of what the ledger knows the device executed (from its `executing` acknowledgement
 * to its verdict, or now). An SVG drawn on the server; the same facts are in the tables beside it.
 */
export function ScheduleTimeline({ versions, reported, bucketMinutes, now }: { versions: Version[]; reported: DevicePoint[]; bucketMinutes: number; now: string }) {
  const shown = versions.slice(0, 5);
  const t = Date.parse(now);
  const starts = shown.flatMap((v) => v.intervals.map((i) => Date.parse(i.start)));
  const ends = shown.flatMap((v) => v.intervals.map((i) => Date.parse(i.end)));
  const from = Math.min(t - 3_600_000, ...starts, ...reported.slice(-288).map((p) => Date.parse(p.ts)));
  const to = Math.max(t + 3_600_000, ...ends);
  const x = (ms: number) => LEFT + ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * (WIDTH - LEFT - 10);
  const lanes = shown.flatMap((v) => [{ v, kind: 'planned' as const }, { v, kind: 'executed' as const }]);
  const top = reported.length ? LANE : 0;
  const height = top + lanes.length * LANE + 30;
  const step = bucketMinutes * 60_000;
  const ticks = Array.from({ length: 7 }, (_, i) => from + ((to - from) * i) / 6);
  return (
    <svg className="timeline" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`Schedule timeline, planned versus executed, of the newest ${shown.length} versions; the same facts are in the delivery history table`} data-timeline>
      {reported.length ? (
        <g data-lane="reported">
          <text x={4} y={19}>reported (telemetry)</text>
          {reported.filter((p) => Date.parse(p.ts) + step > from).map((p) => (
            <rect key={p.ts} x={x(Date.parse(p.ts))} y={6} width={Math.max(1, x(Date.parse(p.ts) + step) - x(Date.parse(p.ts)))} height={LANE - 8}
              fill={COLOURS[p.mode] ?? '#bbb'} opacity={0.9}><title>{`${p.mode} ${p.powerKw} kW, SoC ${p.socPct} %, version ${p.scheduleVersion || 'fallback'}, from ${p.ts}`}</title></rect>
          ))}
        </g>
      ) : null}
      {lanes.map(({ v, kind }, i) => {
        const y = top + i * LANE + 4;
        return (
          <g key={`${v.version}-${kind}`} data-lane={`${v.version}-${kind}`}>
            <text x={4} y={y + 15}>v{v.version} {kind === 'planned' ? `planned (${v.state})` : 'executed'}</text>
            {kind === 'planned'
              ? v.intervals.map((iv, k) => (
                <rect key={k} x={x(Date.parse(iv.start))} y={y + 2} width={Math.max(1, x(Date.parse(iv.end)) - x(Date.parse(iv.start)))} height={LANE - 8}
                  fill={COLOURS[iv.action] ?? '#888'} opacity={v.state === 'superseded' ? 0.35 : 0.9}><title>{`${iv.action}${iv.powerKw !== undefined ? ` ${iv.powerKw} kW` : ''}${iv.targetSoc !== undefined ? ` to ${iv.targetSoc} %` : ''}, ${iv.start} – ${iv.end}`}</title></rect>
              ))
              : v.executingAt ? (
                <rect x={x(Date.parse(v.executingAt))} y={y + 2} width={Math.max(1, x(v.finishedAt ? Date.parse(v.finishedAt) : t) - x(Date.parse(v.executingAt)))} height={LANE - 8}
                  fill={v.state === 'failed' ? '#b42318' : '#555'} opacity={0.8}><title>{`executed from ${v.executingAt}${v.finishedAt ? ` to ${v.finishedAt} (${v.state})` : ' (running)'}`}</title></rect>
              ) : null}
          </g>
        );
      })}
      <line x1={x(t)} x2={x(t)} y1={0} y2={height - 24} stroke="currentColor" strokeDasharray="4 3" />
      {ticks.map((tk) => <text key={tk} x={x(tk)} y={height - 8} textAnchor="middle">{hourLabel(tk, 'UTC')}</text>)}
    </svg>
  );
}

