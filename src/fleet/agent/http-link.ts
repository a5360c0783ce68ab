import type { Logger } from 'pino';
import type { Agent } from './agent.ts';
import type { AgentStore, OutboxItem } from './agent-store.ts';
import { nextPollDelay, retryAfterMs, type LinkOutcome, type PaceOptions } from './poll-pace.ts';
import { sleep } from './backoff.ts';

export interface HttpLinkOptions extends PaceOptions {
  /** GridPulse's base URL, e.g. https://gridpulse.example. */
  apiUrl: string;
  /** The device's HTTP key (kind device, scope fleet:device). */
  key: string;
  /** Long-poll wait the server is asked for, s (the API caps it at 30; default 30). */
  waitS?: number;
  /** Poll only while this says so (the MQTT link is down); default always. Checked once a second while false. */
  active?: () => boolean;
  /** Pause between two POSTs of one outbox drain, ms (default 500: a backlog of many runs stays under the API's write budget). */
  postIntervalMs?: number;
  fetch?: typeof fetch;
}

/**
 * The agent's HTTP fallback, used while MQTT is unreachable: long-polls `GET /api/v1/devices/{id}/schedule?wait=…`
 * with the last ETag (`If-None-Match`; 304 = unchanged), and drains the outbox in `seq` order with
 * `POST /api/v1/devices/{id}/acks` and `/telemetry` (the same message schemas, a JSON array of up to 1,000), deleting
 * only what the server took. It never spins, however the server answers (poll-pace.ts nextPollDelay): two polls start
 * at least minIntervalMs apart, an answer with nothing new that came well before the wait (a server or proxy that
 * does not hold long polls) is followed by the rest of the wait, errors back off with jitter and a Retry-After (429,
 * 503) is obeyed. Nothing here throws.
 */
export class HttpLink {
  private etag: string | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** polls sent (tests and diagnostics) */
  polls = 0;
  /** outbox messages the server refused for their content (400, 413, 422), dropped one by one and logged */
  dropped = 0;

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

  private async refused(res: Response, what: string): Promise<LinkOutcome> {
    await res.body?.cancel();
    const retry = retryAfterMs(res.headers.get('retry-after'));
    this.log.warn({ deviceId: this.agent.deviceId, status: res.status, retryAfterMs: retry }, `${what} refused`);
    return { kind: 'refused', status: res.status, ...(retry === undefined ? {} : { retryAfterMs: retry }) };
  }

  /** One long poll: `changed` when a new version arrived, `unchanged` (304, 204, the version already held), or `refused` (an error status; fetch's own errors propagate). */
  async pollOnce(): Promise<LinkOutcome> {
    const f = this.o.fetch ?? fetch;
    this.polls++;
    const res = await f(`${this.url('schedule')}?wait=${this.o.waitS ?? 30}`, {
      headers: { ...this.headers, ...(this.etag ? { 'if-none-match': this.etag } : {}) }, signal: this.abort.signal,
    });
    if (res.status === 304 || res.status === 204) { await res.body?.cancel(); return { kind: 'unchanged' }; }
    if (!res.ok) return this.refused(res, 'schedule poll');
    const tag = res.headers.get('etag') ?? undefined;
    const body: unknown = await res.json();
    // a server ignoring If-None-Match answers 200 with what the agent holds: nothing new
    if (tag !== undefined && tag === this.etag) return { kind: 'unchanged' };
    this.etag = tag;
    // a duplicate, stale or invalid message is nothing new either (a misbehaving server must not speed the polls up)
    const receipt = this.agent.receive(body);
    return receipt === 'accepted' || receipt === 'rejected' ? { kind: 'changed' } : { kind: 'unchanged' };
  }

  /** Sends the outbox in order, a run of one kind per request (postIntervalMs apart); `unchanged` when it is empty, `refused` when the server refused a request (fetch's own errors propagate). */
  async drainOnce(): Promise<LinkOutcome> {
    for (let sent = 0; ; sent++) {
      const batch = this.store.pending(200);
      if (!batch.length) return { kind: 'unchanged' };
      if (sent > 0) await sleep(this.o.postIntervalMs ?? 500, this.abort.signal);
      if (this.stopped) return { kind: 'refused' };
      const kind = batch[0]!.kind;
      const run: OutboxItem[] = [];
      for (const item of batch) { if (item.kind !== kind) break; run.push(item); }
      const res = await this.post(kind, run);
      if (CONTENT_REFUSED.has(res.status)) {
        // the server refuses what the request holds (a message it cannot take: version skew, a rule it has and
        // this agent had not): one by one, so one message never blocks the outbox — and with it every poll — for good
        await res.body?.cancel();
        for (const item of run) {
          const one = await this.post(kind, [item]);
          if (CONTENT_REFUSED.has(one.status)) {
            this.log.error({ deviceId: this.agent.deviceId, seq: item.seq, kind, status: one.status, problem: (await one.text()).slice(0, 500) },
              'outbox message refused by the server for its content: dropped (the MQTT gateway drops it the same way)');
            this.store.delivered(item.seq);
            this.dropped++;
            continue;
          }
          if (!one.ok) return this.refused(one, `outbox post (${kind})`);
          await one.body?.cancel();
          this.store.delivered(item.seq);
        }
        continue;
      }
      if (!res.ok) return this.refused(res, `outbox post (${kind})`);
      await res.body?.cancel();
      this.store.delivered(run.at(-1)!.seq);
    }
  }

  private post(kind: OutboxItem['kind'], items: readonly OutboxItem[]): Promise<Response> {
    return (this.o.fetch ?? fetch)(this.url(kind === 'ack' ? 'acks' : 'telemetry'), {
      method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' },
      body: JSON.stringify(items.map((i) => i.message)), signal: this.abort.signal,
    });
  }

  /** Drains and polls while `active()`, paced by nextPollDelay (never two polls closer than minIntervalMs). */
  start(): void {
    this.loop = (async () => {
      let attempt = 0;
      while (!this.stopped) {
        if (this.o.active && !this.o.active()) { await sleep(1_000, this.abort.signal); continue; }
        const started = Date.now();
        let outcome: LinkOutcome;
        try {
          outcome = await this.drainOnce();
          if (outcome.kind !== 'refused') outcome = await this.pollOnce();
        } catch (err) {
          if (this.stopped) break;
          this.log.warn({ deviceId: this.agent.deviceId, err: (err as Error).message }, 'http fallback unreachable');
          outcome = { kind: 'refused' };
        }
        attempt = outcome.kind === 'refused' ? attempt + 1 : 0;
        await sleep(nextPollDelay(outcome, Date.now() - started, (this.o.waitS ?? 30) * 1_000, Math.max(0, attempt - 1), this.o), this.abort.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }
}

/** Statuses that refuse a request's content (not the device, the rate or the server's health): retrying it never helps. */
const CONTENT_REFUSED = new Set([400, 413, 422]);
