import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeRow = Record<string, string | number | null>;
/**
 * Injected faults. Paging faults (pages that do not add up): `grow` announces one row more than
 * there is; `drift` announces one more on every page after the first (the total changes between
 * pages); `overlap` starts a page 5 rows before its offset (repeating the previous page's last rows,
 * so as many rows at the end are never sent); `short` drops a page's last row.
 */
export type Fault = 'ok' | '403' | '429' | '500' | 'timeout' | 'truncated' | 'grow' | 'drift' | 'overlap' | 'short' | 'shape';

/**
 * A local server answering like EIA API v2 for the EIA-930 routes: facets, start/end (inclusive,
 * hour-ending labels), multi-column sort, offset/length paging, string totals, and injected faults.
 */
export class FakeEia {
  readonly rows: Record<'region' | 'fuel' | 'interchange', FakeRow[]> = { region: [], fuel: [], interchange: [] };
  /** one fault per request, in order */
  faults: Fault[] = [];
  /** the fault of every request once `faults` is used up (a server that keeps misbehaving) */
  always: Fault = 'ok';
  requests: URL[] = [];
  apiKeysSeen: string[] = [];
  /** the W3C `traceparent` header of each request ('' when absent) */
  traceparentsSeen: string[] = [];
  /** every answer waits this long (a slow EIA, so that a test can stop a client in the middle of a run) */
  delayMs = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      this.requests.push(url);
      this.apiKeysSeen.push(String(req.headers['x-api-key'] ?? url.searchParams.get('api_key') ?? ''));
      this.traceparentsSeen.push(String(req.headers.traceparent ?? ''));
      const fault = this.faults.shift() ?? this.always;
      if (fault === 'timeout') return; // never answers
      if (fault === '429' || fault === '500') { res.writeHead(Number(fault)).end('{"error":"busy"}'); return; }
      if (fault === '403') { res.writeHead(403).end('{"error":"API_KEY_INVALID"}'); return; }
      if (fault === 'shape') { res.writeHead(200, { 'content-type': 'application/json' }).end('{"response":{"data":"none"}}'); return; }
      const route = url.pathname.includes('region-data') ? 'region' : url.pathname.includes('fuel-type-data') ? 'fuel' : url.pathname.includes('interchange-data') ? 'interchange' : undefined;
      if (!route) { res.writeHead(404).end(); return; }
      const p = url.searchParams;
      const start = p.get('start') ?? '0000';
      const end = p.get('end') ?? '9999';
      const facets = new Map<string, string[]>();
      for (const [k, v] of p) {
        const m = /^facets\[(\w+)\]\[\]$/.exec(k);
        if (m) facets.set(m[1]!, [...(facets.get(m[1]!) ?? []), v]);
      }
      let data = this.rows[route].filter((r) => String(r.period) >= start && String(r.period) <= end
        && [...facets].every(([f, vals]) => vals.includes(String(r[f]))));
      const sorts: string[] = [];
      for (let i = 0; p.has(`sort[${i}][column]`); i++) sorts.push(p.get(`sort[${i}][column]`)!);
      data = [...data].sort((a, b) => { for (const c of sorts) { const x = String(a[c]), y = String(b[c]); if (x !== y) return x < y ? -1 : 1; } return 0; });
      const offset = Number(p.get('offset') ?? 0);
      const total = data.length + (fault === 'grow' || (fault === 'drift' && offset > 0) ? 1 : 0);
      const length = Math.min(Number(p.get('length') ?? 5000), 5000);
      const first = fault === 'overlap' ? Math.max(0, offset - 5) : offset;
      const page = data.slice(first, first + length).slice(0, fault === 'short' ? -1 : undefined);
      const body = JSON.stringify({
        response: { total: String(total), dateFormat: 'YYYY-MM-DD"T"HH24', frequency: 'hourly', data: page, description: 'fake' },
        request: { command: url.pathname, params: {} }, apiVersion: '2.1.8', ExcelAddInVersion: '2.1.0',
        ...(total > offset + page.length && page.length === 5000 ? { warnings: [{ warning: 'incomplete return', description: 'capped' }] } : {}),
      });
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(fault === 'truncated' ? body.slice(0, Math.floor(body.length / 2)) : body);
      };
      if (this.delayMs > 0) setTimeout(send, this.delayMs); else send();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/** EIA-format rows for a BA over `hours` hours from `startPeriod` (hour-ending label). */
export function regionRows(ba: string, firstHourEnding: Date, hours: number, value: (h: number, type: string) => string | null): FakeRow[] {
  const out: FakeRow[] = [];
  for (let h = 0; h < hours; h++) {
    const period = new Date(firstHourEnding.getTime() + h * 3_600_000).toISOString().slice(0, 13);
    for (const type of ['D', 'DF', 'NG', 'TI']) {
      out.push({ period, respondent: ba, 'respondent-name': ba, type, 'type-name': type, value: value(h, type), 'value-units': 'megawatthours' });
    }
  }
  return out;
}
