import type { Logger } from 'pino';
import type { Agent } from './agent.ts';
import type { AgentStore, OutboxItem } from './agent-store.ts';
import { backoffDelay } from './backoff.ts';

export interface HttpLinkOptions {
  /** GridPulse's base URL, e.g. https://gridpulse.example. */
  apiUrl: string;
  /** The device's HTTP key (kind device, scope fleet:device). */
  key: string;
  /** Long-poll wait the server is asked for, s (the API caps it at 30). */
  waitS?: number;
  /** Poll only while this says so (the MQTT link is down); default always. */
  active?: () => boolean;
  backoff?: { baseMs?: number; maxMs?: number };
  fetch?: typeof fetch;
}

/**
 * The agent's HTTP fallback, used while MQTT is unreachable: long-polls `GET /api/v1/devices/{id}/schedule?wait=…`
 * with the last ETag (`If-None-Match`; 304 = unchanged), and drains the outbox in `seq` order with
 * `POST /api/v1/devices/{id}/acks` and `/telemetry` (the same message schemas, a JSON array of up to 1,000), deleting
 * only what the server took. Errors back off with jitter; nothing here throws.
 */
export class HttpLink {
  private etag: string | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  private readonly agent: Agent;
  private readonly store: AgentStore;
  private readonly o: HttpLinkOptions;
  private readonly log: Logger;

  constructor(agent: Agent, store: AgentStore, o: HttpLinkOptions, log: Logger) {
    this.agent = agent;
    this.store = store;
    this.o = o;
    this.log = log;
  }

  private url(leaf: string): string {
    return `${this.o.apiUrl.replace(/\/+$/, '')}/api/v1/devices/${encodeURIComponent(this.agent.deviceId)}/${leaf}`;
  }

  private get headers(): Record<string, string> { return { authorization: `Bearer ${this.o.key}` }; }

  /** One long poll: true when the server answered (200 or 304), false on an error. */
  async pollOnce(): Promise<boolean> {
    const f = this.o.fetch ?? fetch;
    const res = await f(`${this.url('schedule')}?wait=${this.o.waitS ?? 30}`, {
      headers: { ...this.headers, ...(this.etag ? { 'if-none-match': this.etag } : {}) }, signal: this.abort.signal,
    });
    if (res.status === 304 || res.status === 204) { await res.body?.cancel(); return true; }
    if (!res.ok) { this.log.warn({ deviceId: this.agent.deviceId, status: res.status }, 'schedule poll refused'); await res.body?.cancel(); return false; }
    this.etag = res.headers.get('etag') ?? undefined;
    this.agent.receive(await res.json());
    return true;
  }

  /** Sends the outbox in order, a run of one kind per request; true when it is empty. */
  async drainOnce(): Promise<boolean> {
    const f = this.o.fetch ?? fetch;
    for (;;) {
      const batch = this.store.pending(200);
      if (!batch.length) return true;
      const kind = batch[0]!.kind;
      const run: OutboxItem[] = [];
      for (const item of batch) { if (item.kind !== kind) break; run.push(item); }
      const res = await f(this.url(kind === 'ack' ? 'acks' : 'telemetry'), {
        method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' },
        body: JSON.stringify(run.map((i) => i.message)), signal: this.abort.signal,
      });
      await res.body?.cancel();
      if (!res.ok) { this.log.warn({ deviceId: this.agent.deviceId, status: res.status, kind }, 'outbox post refused'); return false; }
      this.store.delivered(run.at(-1)!.seq);
    }
  }

  /** Polls and drains while `active()`, backing off with jitter after errors. */
  start(): void {
    this.loop = (async () => {
      let attempt = 0;
      while (!this.stopped) {
        if (this.o.active && !this.o.active()) { await sleep(1_000, this.abort.signal); continue; }
        let ok = false;
        try { ok = (await this.drainOnce()) && (await this.pollOnce()); } catch (err) {
          if (this.stopped) break;
          this.log.warn({ deviceId: this.agent.deviceId, err: (err as Error).message }, 'http fallback unreachable');
        }
        attempt = ok ? 0 : attempt + 1;
        if (!ok) await sleep(backoffDelay(attempt, this.o.backoff), this.abort.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) { resolve(); return; }
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});
