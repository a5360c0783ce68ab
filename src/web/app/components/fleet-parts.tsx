import type { Device, Rollout } from '../lib/fleet-api.ts';
import { CsrfField } from './csrf-field.tsx';
import { Form } from 'react-router';
import type { ReactNode } from 'react';
import { ChartBlock, type ChartSpec } from './chart.tsx';

export type ShownStatus = 'online' | 'offline' | 'never-seen';

/** online, offline, or never seen (provisioned, never connected: the API calls it offline). */
export const shownStatus = (d: Pick<Device, 'status' | 'lastSeenAt'>): ShownStatus => (d.lastSeenAt === null ? 'never-seen' : d.status);

const STATUS_TEXT: Record<ShownStatus, string> = { online: 'online', offline: 'offline', 'never-seen': 'never seen' };

/** A device's status in words and colour (the word carries the meaning; the colour only repeats it). */
export function StatusBadge({ status }: { status: ShownStatus }) {
  return <span className={`device-status device-${status}`} data-status={status}>{STATUS_TEXT[status]}</span>;
}

/** "● live" while the fleet's event stream is open, with how many changes arrived. */
export function LiveBadge({ live }: { live: { connected: boolean; events: number } }) {
  return <span className="muted" aria-live="polite" data-live={live.connected ? 'on' : 'off'}>{live.connected ? '● live' : 'connecting…'}{live.events ? ` · ${live.events} change${live.events === 1 ? '' : 's'} received` : ''}</span>;
}

const TARGET = (r: Rollout) => (r.targetKind === 'fleet' ? 'the whole fleet' : r.targetKind === 'group' ? `group ${r.groupId?.slice(0, 8) ?? ''}` : 'one device');

/** The rollouts with a progress bar each (running ones may be cancelled with one click; the form posts to /fleet). */
export function RolloutTable({ rollouts, caption }: { rollouts: Rollout[]; caption: string }) {
  if (rollouts.length === 0) return <p>No rollouts yet.</p>;
  return (
    <div className="table-scroll">
      <table className="rollouts">
        <caption>{caption}</caption>
        <thead><tr><th scope="col">Rollout</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Issued</th><th scope="col">Confirmed</th><th scope="col">Failed or refused</th><th scope="col">Timed out</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>{rollouts.map((r) => (
          <tr key={r.id} data-rollout={r.id} data-status={r.status}>
            <th scope="row">{TARGET(r)} <code>{r.id.slice(0, 8)}</code></th>
            <td>{r.status}{r.statusReason ? <> — {r.statusReason}</> : null}</td>
            <td className="progress-cell">
              <progress max={100} value={r.progressPct} aria-label={`Rollout ${r.id.slice(0, 8)} progress`} data-progress={r.progressPct} />
              <span className="num">{r.progressPct.toFixed(0)} %</span>
            </td>
            <td className="num">{r.issued} / {r.total}</td><td className="num">{r.states.acknowledged + r.states.executing + r.states.succeeded}</td><td className="num">{r.states.failed + r.skipped}</td><td className="num">{r.states['timed-out']}</td>
            <td>{r.status === 'running' ? (
              <Form method="post" action="/fleet" className="inline">
                <CsrfField /><input type="hidden" name="intent" value="cancel" /><input type="hidden" name="id" value={r.id} />
                <button type="submit" aria-label={`Cancel rollout ${r.id.slice(0, 8)}`}>Cancel</button>
              </Form>
            ) : null}</td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}

/** A state-of-charge chart and a power chart over 5-minute buckets (UTC), each with its CSV and data table. */
export function SocPowerCharts({ id, what, points, socNote, powerNote }: { id: string; what: string; points: Array<{ ts: string; socPct: number | null; powerKw: number | null }>; socNote?: ReactNode; powerNote?: ReactNode }) {
  const ts = points.map((p) => p.ts);
  const soc: ChartSpec = { id: `${id}-soc`, title: `${what} state of charge`, unit: '%', ts, series: [{ label: 'SoC', values: points.map((p) => p.socPct), colour: '#3d5a99' }] };
  const power: ChartSpec = { id: `${id}-power`, title: `${what} power`, unit: 'kW', ts, series: [{ label: 'power (+ charging, − discharging)', values: points.map((p) => p.powerKw), colour: '#1a7f37', fill: true }] };
  return (
    <>
      <ChartBlock spec={soc} timeZone="UTC" zoneLabel="UTC" step="5-minute" note={socNote} />
      <ChartBlock spec={power} timeZone="UTC" zoneLabel="UTC" step="5-minute" note={powerNote} />
    </>
  );
}
