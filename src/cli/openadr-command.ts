import { CLIENT_KINDS, createClient, listClients, revokeClient, type ClientKind } from '../auth/client-credentials.ts';
import { audit, systemActor } from '../auth/audit.ts';
import { withDb } from './keys-command.ts';

export interface OpenadrClientsCreateOptions { name: string; kind: string; scope?: string[]; json?: boolean }

/** `gridpulse openadr clients create --name N [--kind ven|bl] [--scope s…] [--json]`: prints client_id and client_secret once. */
export async function openadrClientsCreate(opts: OpenadrClientsCreateOptions): Promise<number> {
  if (!(CLIENT_KINDS as readonly string[]).includes(opts.kind)) throw new Error(`--kind: expected one of ${CLIENT_KINDS.join(', ')}, got '${opts.kind}'`);
  const { client, clientSecret } = await withDb(async (db) => {
    const made = await createClient(db, { name: opts.name, kind: opts.kind as ClientKind, ...(opts.scope ? { scopes: opts.scope } : {}) });
    await audit(db, { ...systemActor(), action: 'openadr.client.create', outcome: 'success', objectType: 'openadr_client', objectId: made.client.clientId, detail: { scopes: made.client.scopes } });
    return made;
  });
  if (opts.json) process.stdout.write(`${JSON.stringify({ clientId: client.clientId, clientSecret, kind: client.kind, scopes: client.scopes })}\n`);
  else process.stdout.write(`client_id:     ${client.clientId}\nclient_secret: ${clientSecret}\nscopes:        ${client.scopes.join(' ')}\n(the secret is shown only now)\n`);
  return 0;
}

export async function openadrClientsList(): Promise<number> {
  const list = await withDb(listClients);
  for (const c of list) process.stdout.write(`${c.clientId}\t${c.kind}\t${c.scopes.join(' ')}\t${c.revokedAt ? `revoked ${c.revokedAt}` : 'active'}\t${c.name}\n`);
  return 0;
}

export async function openadrClientsRevoke(clientId: string): Promise<number> {
  const done = await withDb(async (db) => {
    const ok = await revokeClient(db, clientId);
    if (ok) await audit(db, { ...systemActor(), action: 'openadr.client.revoke', outcome: 'success', objectType: 'openadr_client', objectId: clientId });
    return ok;
  });
  if (!done) throw new Error(`no active client ${clientId}`);
  process.stdout.write(`revoked ${clientId}\n`);
  return 0;
}
