import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { ownedChange, ownerAccess, ownerOf } from '../accounts/owner.ts';
import type { FastifyRequest } from 'fastify';
import { alertRule, alertRuleOut, FLEET_ROLES, FLEET_RULE_KINDS, type AlertRule } from './alert-rules.ts';
import { createAlert, deleteAlert, getAlert, listAlerts, listDeliveries, updateAlert } from './alert-repository.ts';
import { checkWebhookUrl, type TargetPolicy } from './webhook-target.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook-signature.ts';

const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });
const idParams = z.object({ id: z.uuid('an alert id (UUID)') });

const alertBody = z.object({
  name: z.string().trim().min(1).max(120),
  rule: alertRule,
  webhookUrl: z.string().max(2048).describe('http(s) URL receiving a POST per firing; loopback, private, link-local, CGNAT and multicast targets '
    + '(also by DNS name) are refused unless the administrator allows them (WEBHOOK_ALLOW_PRIVATE=1)'),
  cooldownMinutes: z.number().int().min(0).max(10_080).default(60).describe('after a firing, the rule does not fire again for this long'),
});

const alert = z.object({
  id: z.string(), name: z.string(), rule: alertRuleOut, webhookUrl: z.string(), cooldownMinutes: z.number(),
  status: z.enum(['active', 'paused', 'disabled']).describe('disabled: set after repeated delivery failures (see disabledReason); PUT status active re-enables'),
  disabledReason: z.string().nullable(), consecutiveFailures: z.number(), lastFiredAt: z.string().nullable(), createdAt: z.string(),
});

const delivery = z.object({
  id: z.number(), occurrence: z.string(), status: z.enum(['pending', 'delivered', 'failed']), attempts: z.number(),
  nextAttemptAt: z.string().nullable(), lastStatusCode: z.number().nullable(), lastError: z.string().nullable(), createdAt: z.string(), finishedAt: z.string().nullable(),
  tries: z.array(z.object({ attempt: z.number(), at: z.string(), statusCode: z.number().nullable().describe('null: no HTTP answer'), error: z.string().nullable(), durationMs: z.number() })),
});

const owned = 'Signed-in users only (session cookie or `Authorization: Bearer`); 401 otherwise. Another user\'s alert id answers 404, like an unknown one.';
const rules = 'Rule kinds: `intensity_below` {ba, thresholdGPerKwh, basis} — hourly carbon intensity (gCO2eq/kWh, lifecycle) below the threshold, once per spell; '
  + '`clean_window_tomorrow` {ba, durationHours} — the start of tomorrow\'s (BA-local) cleanest window in the newest intensity forecast, once per day; '
  + '`data_late` {ba, hours} — the newest demand hour ended more than `hours` ago, once per stall; '
  + '`demand_above_forecast` {ba, percent} — demand above EIA\'s day-ahead forecast by more than `percent` %, once per spell; '
  + '`devices_offline` {ba?, minutes, count} — operators and administrators only (403 otherwise; it stops firing if its owner loses the role): at least `count` '
  + 'batteries (of the BA, or the whole fleet) offline for more than `minutes`, once per set of outages, checked every minute and on each device status change. '
  + 'Rules are evaluated by the worker when new hours land. Deliveries: POST JSON `{type: "alert.fired", alert, rule, occurrence, summary, details, firedAt}` with '
  + `\`${TIMESTAMP_HEADER}\` (Unix seconds) and \`${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>\`; `
  + 'retried with exponential backoff; the alert is disabled after repeated failures.';
const notFound = () => new HttpProblem(404, 'no such alert', 'id');

/** Fleet rules disclose the fleet: only operators and administrators may hold them. */
function checkRuleAllowed(req: FastifyRequest, rule: AlertRule): void {
  if (FLEET_RULE_KINDS.includes(rule.kind) && !FLEET_ROLES.includes(req.principal?.role ?? '')) {
    throw new HttpProblem(403, `${rule.kind} alerts watch the battery fleet: they are for operators and administrators`, 'rule/kind');
  }
}

/** Alerts: CRUD for their owner at /api/v1/me/alerts and each alert's delivery log. */
export function alertRoutes(app: FastifyInstance, db: Db, policy: TargetPolicy): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['alerts'];
  const target = async (url: string) => (await checkWebhookUrl(url, policy)).toString();
  const read = { access: ownerAccess('alerts:read') };
  const write = { access: ownerAccess('alerts:write') };
  const change = <T,>(req: FastifyRequest, action: string, fn: (tx: Db) => Promise<T | undefined>, id?: (t: T) => string) =>
    ownedChange(db, req, { action, objectType: 'alert', notFound }, fn, id);
  r.get('/api/v1/me/alerts', { config: read, schema: { tags, summary: 'Your alerts', description: `${owned} ${rules}`, response: { 200: z.object({ data: z.array(alert) }) } } },
    async (req) => ({ data: await listAlerts(db, ownerOf(req)) }));
  r.post('/api/v1/me/alerts', {
    config: write,
    schema: {
      tags, summary: 'Create an alert (the answer shows its signing secret, once)', description: `${owned} ${rules}`, body: alertBody,
      response: { 201: alert.extend({ secret: z.string().describe('HMAC-SHA256 key of the deliveries\' signature: shown only in this answer') }), 400: problem, 403: problem },
    },
  }, async (req, reply) => {
    const owner = ownerOf(req);
    checkRuleAllowed(req, req.body.rule);
    const webhookUrl = await target(req.body.webhookUrl);
    const created = await change(req, 'alerts.create', (tx) => createAlert(tx, owner, { ...req.body, webhookUrl }), (a) => a.id);
    const { ownerId: _o, ...out } = created;
    return reply.code(201).send(out);
  });
  r.get('/api/v1/me/alerts/:id', { config: read, schema: { tags, summary: 'One of your alerts', description: owned, params: idParams, response: { 200: alert, 404: problem } } },
    async (req) => { const a = await getAlert(db, ownerOf(req), req.params.id); if (!a) throw notFound(); return a; });
  r.put('/api/v1/me/alerts/:id', {
    config: write,
    schema: {
      tags, summary: 'Replace an alert\'s settings; status active re-enables a disabled alert, paused stops it', description: owned, params: idParams,
      body: alertBody.extend({ status: z.enum(['active', 'paused']).default('active') }), response: { 200: alert, 400: problem, 403: problem, 404: problem },
    },
  }, async (req) => {
    const owner = ownerOf(req);
    if (!(await getAlert(db, owner, req.params.id))) throw notFound(); // 404 before judging the URL: no probing of other users' ids
    checkRuleAllowed(req, req.body.rule);
    const webhookUrl = await target(req.body.webhookUrl);
    return change(req, 'alerts.update', (tx) => updateAlert(tx, owner, req.params.id, { ...req.body, webhookUrl }));
  });
  r.delete('/api/v1/me/alerts/:id', { config: write, schema: { tags, summary: 'Delete an alert and its delivery log', description: owned, params: idParams } },
    async (req, reply) => { await change(req, 'alerts.delete', (tx) => deleteAlert(tx, ownerOf(req), req.params.id)); return reply.code(204).send(); });
  r.get('/api/v1/me/alerts/:id/deliveries', {
    config: read,
    schema: { tags, summary: 'The alert\'s delivery log: newest 50 deliveries with every try and its HTTP status', description: owned, params: idParams, response: { 200: z.object({ data: z.array(delivery) }), 404: problem } },
  }, async (req) => { const d = await listDeliveries(db, ownerOf(req), req.params.id); if (!d) throw notFound(); return { data: d }; });
}
