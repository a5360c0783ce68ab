import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';

/** Operator pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'OpenADR programs and events · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = ['admin', 'operator'];

interface Program { id: string; programName: string; programLongName?: string | null; retailerName?: string | null; programType?: string | null; createdDateTime: string }
interface Payload { type: string; values: unknown[] }
interface OadrEvent {
  id: string; programID: string; eventName?: string | null; priority?: number | null; createdDateTime: string; modificationDateTime: string;
  targets?: Payload[] | null; payloadDescriptors?: Array<{ payloadType: string; units?: string | null; currency?: string | null }> | null;
  intervalPeriod?: { start: string; duration?: string }; intervals: Array<{ id: number; intervalPeriod?: { start: string; duration?: string }; payloads: Payload[] }>;
}

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const [programs, events] = await Promise.all([
    web.call<Program[]>('GET', '/openadr/3.0.1/programs?limit=50'),
    web.call<OadrEvent[]>('GET', '/openadr/3.0.1/events?limit=50'),
  ]);
  return {
    programs: programs.ok ? programs.data : [], events: events.ok ? events.data : [],
    error: programs.ok ? (events.ok ? null : events.detail) : programs.detail,
  };
}

const values = (ps: Payload[]) => ps.map((p) => `${p.type} ${p.values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')}`).join('; ');

export default function Openadr() {
  const d = useLoaderData<typeof loader>();
  const names = new Map(d.programs.map((p) => [p.id, p.programName]));
  return (
    <section>
      <h1>OpenADR programs and events</h1>
      <p>GridPulse is an OpenADR 3.0.1 VTN at <code>/openadr/3.0.1</code>. Utilities (business-logic clients) publish programs and events — PRICE, EXPORT_PRICE,
        GHG, DISPATCH_SETPOINT, capacity limits — and the fleet&apos;s optimizer takes them as inputs: prices override the tariff, setpoints constrain the plan.
        Clients are registered with <code>gridpulse openadr clients create</code> and fetch tokens at <code>/openadr/3.0.1/auth/token</code>.</p>
      {d.error ? <p className="notice" role="alert">{d.error}</p> : null}
      <div className="table-scroll">
        <table>
          <caption>Programs</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Long name</th><th scope="col">Retailer</th><th scope="col">Type</th><th scope="col">Id</th><th scope="col">Created</th></tr></thead>
          <tbody>{d.programs.map((p) => (
            <tr key={p.id}><td>{p.programName}</td><td>{p.programLongName ?? '—'}</td><td>{p.retailerName ?? '—'}</td><td>{p.programType ?? '—'}</td><td><code>{p.id}</code></td><td>{p.createdDateTime}</td></tr>
          ))}</tbody>
        </table>
      </div>
      {d.programs.length === 0 ? <p>No programs yet.</p> : null}
      <div className="table-scroll">
        <table>
          <caption>Events (first 50, oldest first)</caption>
          <thead><tr><th scope="col">Event</th><th scope="col">Program</th><th scope="col">Priority</th><th scope="col">Targets</th><th scope="col">Starts</th><th scope="col">Intervals</th><th scope="col">Payloads (first interval)</th></tr></thead>
          <tbody>{d.events.map((e) => (
            <tr key={e.id}>
              <td>{e.eventName ?? <code>{e.id}</code>}</td><td>{names.get(e.programID) ?? e.programID}</td><td>{e.priority ?? '—'}</td>
              <td>{e.targets?.length ? values(e.targets) : 'all'}</td>
              <td>{e.intervalPeriod?.start ?? e.intervals[0]?.intervalPeriod?.start ?? '—'}{e.intervalPeriod?.duration ? ` (${e.intervalPeriod.duration} each)` : ''}</td>
              <td>{e.intervals.length}</td>
              <td>{e.intervals[0] ? values(e.intervals[0].payloads) : '—'}{e.payloadDescriptors?.[0]?.units ? ` per ${e.payloadDescriptors[0].units}` : ''}</td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {d.events.length === 0 ? <p>No events yet.</p> : null}
    </section>
  );
}
