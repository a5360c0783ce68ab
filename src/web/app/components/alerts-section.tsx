import { useCallback, useEffect, useState } from 'react';
import { useRouteLoaderData } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';
import { meCall } from '../lib/me-api.ts';

interface Alert { id: string; name: string; rule: Record<string, unknown> & { kind: string; ba?: string }; webhookUrl: string; status: 'active' | 'paused' | 'disabled'; disabledReason: string | null; lastFiredAt: string | null; cooldownMinutes: number }
interface Delivery { id: number; occurrence: string; status: string; attempts: number; lastStatusCode: number | null; lastError: string | null; createdAt: string }

interface Field { name: string; label: string; value: string }
/** Rule kinds the form offers; `fleet` ones (the battery fleet) only to operators and administrators, with an optional BA. */
const KINDS: Record<string, { label: string; fields?: Field[]; fleet?: boolean }> = {
  intensity_below: { label: 'carbon intensity (consumed) below', fields: [{ name: 'thresholdGPerKwh', label: 'g/kWh', value: '150' }] },
  clean_window_tomorrow: { label: 'the cleanest 3-hour window tomorrow starts' },
  data_late: { label: 'data late by more than', fields: [{ name: 'hours', label: 'hours', value: '3' }] },
  demand_above_forecast: { label: 'demand above the day-ahead forecast by', fields: [{ name: 'percent', label: '%', value: '5' }] },
  devices_offline: { label: 'batteries offline', fleet: true, fields: [{ name: 'minutes', label: 'for more than (minutes)', value: '15' }, { name: 'count', label: 'at least (devices)', value: '1' }] },
};

const describe = (r: Alert['rule']) => `${r.ba ?? 'whole fleet'}: ${KINDS[r.kind]?.label ?? r.kind}${(KINDS[r.kind]?.fields ?? []).map((f) => ` ${f.label} ${String(r[f.name])}`).join(',')}`;

/** The signed-in user's alerts (account page section): create one (its signing secret shown once), status, delivery log, delete. */
export function AlertsSection() {
  const root = useRouteLoaderData<typeof rootLoader>('root');
  const csrf = root?.csrf ?? '';
  const fleetRole = root?.viewer?.role === 'operator' || root?.viewer?.role === 'admin';
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [message, setMessage] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [kind, setKind] = useState('intensity_below');
  const [log, setLog] = useState<{ id: string; rows: Delivery[] } | null>(null);
  const load = useCallback(async () => {
    const r = await meCall<{ data: Alert[] }>('GET', '/api/v1/me/alerts', csrf);
    if (r.ok) setAlerts(r.data.data);
    else setMessage(r.status === 401 ? 'Sign in to see your alerts.' : r.detail);
  }, [csrf]);
  useEffect(() => { void load(); }, [load]);
  const create = async (form: HTMLFormElement) => {
    const f = new FormData(form);
    const ba = String(f.get('ba') ?? '');
    const rule = { kind, ...(ba || !KINDS[kind]?.fleet ? { ba } : {}), ...Object.fromEntries((KINDS[kind]?.fields ?? []).map((x) => [x.name, Number(f.get(x.name))])) };
    const r = await meCall<Alert & { secret: string }>('POST', '/api/v1/me/alerts', csrf,
      { name: String(f.get('name') ?? ''), rule, webhookUrl: String(f.get('webhookUrl') ?? ''), cooldownMinutes: Number(f.get('cooldownMinutes') ?? 60) });
    if (r.ok) { setSecret(r.data.secret); setMessage(`Alert “${r.data.name}” created.`); form.reset(); } else setMessage(`Not created: ${r.detail}`);
    await load();
  };
  const showLog = async (id: string) => {
    const r = await meCall<{ data: Delivery[] }>('GET', `/api/v1/me/alerts/${id}/deliveries`, csrf);
    if (r.ok) setLog({ id, rows: r.data.data }); else setMessage(r.detail);
  };
  const remove = async (a: Alert) => {
    const r = await meCall('DELETE', `/api/v1/me/alerts/${a.id}`, csrf);
    setMessage(r.ok ? `Deleted “${a.name}”.` : r.detail);
    await load();
  };
  const fields = KINDS[kind]?.fields ?? [];
  const fleetKind = KINDS[kind]?.fleet === true;
  return (
    <section aria-labelledby="alerts-h" className="account-alerts">
      <h2 id="alerts-h">Alerts</h2>
      <p role="status">{message}</p>
      {secret ? <p className="notice">Signing secret (shown once; deliveries carry X-GridPulse-Signature = sha256 HMAC of “timestamp.body” with it): <code data-secret>{secret}</code></p> : null}
      <form aria-label="New alert" className="inline-form" onSubmit={(e) => { e.preventDefault(); void create(e.currentTarget); }}>
        <label>Name <input name="name" required maxLength={120} /></label>
        <label>BA{fleetKind ? ' (empty: whole fleet)' : ''} <input name="ba" required={!fleetKind} pattern="[A-Za-z0-9]{2,6}" size={6} /></label>
        <label>When <select name="kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {Object.entries(KINDS).filter(([, v]) => !v.fleet || fleetRole).map(([k, v]) => <option key={k} value={k}>{v.label}</option>)}
        </select></label>
        {fields.map((x) => <label key={x.name}>{x.label} <input name={x.name} type="number" step="any" min="0" required defaultValue={x.value} /></label>)}
        <label>Webhook URL <input name="webhookUrl" type="url" required placeholder="https://example.com/hooks/gridpulse" /></label>
        <label>Cool-down (minutes) <input name="cooldownMinutes" type="number" min="0" max="10080" defaultValue="60" /></label>
        <button type="submit">Create alert</button>
      </form>
      {alerts === null ? null : alerts.length === 0 ? <p>No alerts yet.</p> : (
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Rule</th><th scope="col">Status</th><th scope="col">Last fired</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{alerts.map((a) => (
            <tr key={a.id} data-alert={a.id}>
              <th scope="row">{a.name}</th>
              <td>{describe(a.rule)}</td>
              <td data-status={a.status}>{a.status}{a.disabledReason ? <> — {a.disabledReason}</> : null}</td>
              <td>{a.lastFiredAt ?? 'never'}</td>
              <td><button type="button" onClick={() => void showLog(a.id)}>Delivery log</button> <button type="button" onClick={() => void remove(a)}>Delete</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {log ? (
        <table aria-label="Delivery log">
          <thead><tr><th scope="col">Delivery</th><th scope="col">Occurrence</th><th scope="col">Status</th><th scope="col">Tries</th><th scope="col">Last HTTP status</th><th scope="col">Last error</th></tr></thead>
          <tbody>{log.rows.length === 0 ? <tr><td colSpan={6}>No deliveries yet.</td></tr> : log.rows.map((d) => (
            <tr key={d.id} data-delivery={d.status}><td>{d.id}</td><td>{d.occurrence}</td><td>{d.status}</td><td>{d.attempts}</td><td>{d.lastStatusCode ?? '—'}</td><td>{d.lastError ?? ''}</td></tr>
          ))}</tbody>
        </table>
      ) : null}
    </section>
  );
}
