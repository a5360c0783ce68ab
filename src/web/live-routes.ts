import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { getBa } from '../grid/ba-repository.ts';
import type { LiveHub } from './live-hub.ts';

const HEARTBEAT_MS = 25_000;

/** GET /api/v1/live: Server-Sent Events, one `hours` event per ingestion commit touching the BAs asked for. */
export function liveRoutes(app: FastifyInstance, db: Db, hub: LiveHub): void {
  const open = new Set<ServerResponse>();
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/live', {
    config: { access: { public: true } },
    schema: {
      summary: 'Live change events (Server-Sent Events) when new hours land for a BA',
      description: 'text/event-stream. Each ingestion commit that writes new or revised hours sends `event: hours` with '
        + 'data `{"bas":["CISO",…],"newest":"<ISO hour start>","source":"eia|simulated|external"}`, filtered to the BAs '
        + 'asked for (comma-separated; all BAs when omitted). A comment line is sent every 25 s as a heartbeat; '
        + 'clients reconnect after 10 s (`retry`). Pages re-fetch their data on each event.',
      querystring: z.object({
        ba: z.string().regex(/^[A-Za-z0-9]{2,6}(,[A-Za-z0-9]{2,6}){0,19}$/, 'comma-separated EIA BA codes such as CISO,ERCO').optional(),
      }),
    },
  }, async (req, reply) => {
    const bas = req.query.ba ? [...new Set(req.query.ba.toUpperCase().split(','))] : [];
    for (const code of bas) if (!(await getBa(db, code))) throw new HttpProblem(404, `unknown balancing authority '${code}'`, 'ba');
    const res = openEventStream(reply, open, `live ${bas.join(',') || 'all'}${hub.listening ? '' : ' (no database notifications yet)'}`);
    const unsubscribe = hub.subscribe(bas, (_event, raw) => { res.write(`event: hours\ndata: ${raw}\n\n`); });
    res.on('close', unsubscribe);
  });
  app.addHook('preClose', async () => { for (const res of open) res.end(); });
  app.addHook('onClose', async () => { await hub.close(); });
}

/**
 * Turns a reply into a Server-Sent Events stream: headers (with those already set on the reply, such as CORS),
 * a 10 s reconnect hint, `greeting` as a comment, a heartbeat comment every 25 s; the stream is kept in `open`
 * (ended when the server closes) until the client goes away.
 */
export function openEventStream(reply: FastifyReply, open: Set<ServerResponse>, greeting: string): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  // Hijacked: headers set on the reply so far (CORS) are written here or not at all.
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive', 'x-accel-buffering': 'no',
  });
  res.write(`retry: 10000\n: ${greeting}\n\n`);
  open.add(res);
  const beat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  res.on('close', () => { clearInterval(beat); open.delete(res); });
  return res;
}
