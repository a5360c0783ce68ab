import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { DEVICE_ID } from '../fleet/messages.ts';
import { FLEET_CHANNEL, parseFleetEvent, type FleetEvent } from '../fleet/fleet-events.ts';
import { createChannelHub } from './live-hub.ts';
import { openEventStream } from './live-routes.ts';

/**
 * GET /api/v1/fleet/live: Server-Sent Events of fleet changes for operators and administrators (the fleet pages
 * re-fetch their data on each event). One LISTEN on `gridpulse_fleet` per process.
 */
export function fleetLiveRoutes(app: FastifyInstance, db: Db, logger: Logger): void {
  const hub = createChannelHub<FleetEvent, string>(db, logger, { channel: FLEET_CHANNEL, parse: parseFleetEvent, keysOf: (e) => e.deviceIds });
  const open = new Set<ServerResponse>();
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/fleet/live', {
    config: { access: { roles: ['operator', 'admin'] } },
    schema: {
      tags: ['fleet'],
      summary: 'Live fleet change events (Server-Sent Events): device status, delivery ledger, rollout progress',
      description: 'Operators and administrators (session cookie or access token). text/event-stream; each committed change sends '
        + '`event: fleet` with data `{"kind":"devices"|"ledger"|"rollouts","deviceIds":[…]?,"rolloutIds":[…]?}` (id lists left out '
        + 'when long: possibly every device). `?device=<id>` keeps only events naming that device (and those naming no device). '
        + 'Heartbeat comment every 25 s; clients reconnect after 10 s.',
      querystring: z.object({ device: z.string().regex(DEVICE_ID, 'a device id (lower-case letters, digits, hyphens)').optional() }),
    },
  }, async (req, reply) => {
    const device = req.query.device;
    const res = openEventStream(reply, open, `fleet ${device ?? 'all'}${hub.listening ? '' : ' (no database notifications yet)'}`);
    const unsubscribe = hub.subscribe(device ? [device] : [], (_event, raw) => { res.write(`event: fleet\ndata: ${raw}\n\n`); });
    res.on('close', unsubscribe);
  });
  app.addHook('preClose', async () => { for (const res of open) res.end(); });
  app.addHook('onClose', async () => { await hub.close(); });
}
