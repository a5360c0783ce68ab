import type { FreshStatus, Source } from '../lib/api-types.ts';
import { agoLabel, hourLabel, HOUR_MS } from '../lib/time.ts';
import { useDisplayZone } from '../lib/use-zone.ts';

interface Props {
  dataThrough: string | null | undefined;
  status?: FreshStatus | undefined;
  /** the API's lag (from the hour start), shown in the tooltip */
  lagMinutes?: number | null | undefined;
  timeZone?: string | undefined;
  now: string;
}

/**
 * "data through 14:00 local, 47 min ago": the END of the newest hour behind a number (hours are stored by
 * their start), coloured amber when late and red when stale by the analytics freshness thresholds.
 */
export function Freshness({ dataThrough, status, lagMinutes, timeZone, now }: Props) {
  const zone = useDisplayZone(timeZone);
  if (!dataThrough) return <span className="fresh fresh-none">no data yet</span>;
  const end = new Date(dataThrough).getTime() + HOUR_MS;
  // "N min ago" counts from the end of the newest hour, matching "data through HH:00"; the status comes from the API.
  const ago = Math.round((new Date(now).getTime() - end) / 60_000);
  const cls = status ? `fresh fresh-${status}` : 'fresh fresh-unknown';
  return (
    <span className={cls} title={`${status ? `freshness: ${status}` : 'freshness status unavailable'}${lagMinutes !== null && lagMinutes !== undefined ? `, lag ${lagMinutes} min after the hour start` : ''}`}>
      {status && status !== 'fresh' ? <strong>{status}: </strong> : null}
      data through <time dateTime={new Date(end).toISOString()}>{hourLabel(end, zone.timeZone)} {zone.label}</time>, {agoLabel(ago)}
    </span>
  );
}

/** A visible mark on anything not straight from EIA. */
export function SourceMark({ source, stale }: { source: Source | string | undefined; stale?: boolean | undefined }) {
  return (
    <>
      {source === 'simulated' ? <span className="tag tag-sim" title="Simulated grid data, not EIA measurements">simulated</span> : null}
      {source === 'mixed' ? <span className="tag tag-sim" title="Some series are simulated or external">mixed sources</span> : null}
      {stale ? <span className="tag tag-stale" title="Served from cache: the database did not answer">cached answer</span> : null}
    </>
  );
}
