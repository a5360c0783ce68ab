import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ServerResponse } from 'node:http';
import type { Db } from '../platform/db.ts';
import { FLEET_CHANNEL, parseFleetChange, type FleetChange } from '../fleet/fleet-events.ts';
import { createChannelHub } from './live-hub.ts';
import { openEventStream } from './live-routes.ts';

/**
 * GET /api/v1/fleet/live: Server-Sent Events of fleet changes for operators and administrators (the fleet pages
 * re-fetch their data on each event). One LISTEN on `gridpulse_fleet` per process.
 */
export function fleetLiveRoutes(app: FastifyInstance, db: Db, logger: Logger): void {
  // notices name what changed, never which rows: every stream hears every notice
  const hub = createChannelHub<{ kind: FleetChange; count: number }, string>(db, logger, { channel: FLEET_CHANNEL, parse: parseFleetChange, keysOf: () => undefined });
  const open = new Set<ServerResponse>();
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/fleet/live', {
    config: { access: { roles: ['operator', 'admin'] } },
    schema: {
      tags: ['fleet'],
      summary: 'Live fleet change events (Server-Sent Events): device status, delivery ledger, rollout progress',
      description: 'Operators and administrators (session cookie or access token). text/event-stream; each committed change sends '
        + '`event: fleet` with data `{"kind":"devices"|"ledger"|"rollouts","count":n}`: what changed and how many rows, never which '
        + '(one notice per batch; a page re-reads what it shows, coalescing bursts). Heartbeat comment every 25 s; clients reconnect after 10 s.',
      response: { 200: { description: 'the event stream (text/event-stream), open until the client or the server closes it', content: { 'text/event-stream': { schema: z.string() } } } },
    },
  }, async (_req, reply) => {
    const res = openEventStream(reply, open, `fleet${hub.listening ? '' : ' (no database notifications yet)'}`);
    const unsubscribe = hub.subscribe([], (_event, raw) => { res.write(`event: fleet\ndata: ${raw}\n\n`); });
    res.on('close', unsubscribe);
  });
  app.addHook('preClose', async () => { for (const res of open) res.end(); });
  app.addHook('onClose', async () => { await hub.close(); });
}
