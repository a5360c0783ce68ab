import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { securityOf } from './access.ts';
import { CLIENT_KIND_SCOPES, createClient, OPENADR_SCOPES } from './client-credentials.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import type { HttpProblem } from '../platform/problem.ts';

describe('OpenADR scopes', () => {
  it('the OpenAPI document names them under the oAuth2ClientCredentials scheme, not as API-key scopes', () => {
    for (const s of Object.keys(OPENADR_SCOPES)) {
      assert.deepEqual(securityOf({ scopes: [s], roles: ['operator'] }), [{ accessToken: [] }, { sessionCookie: [] }, { oAuth2ClientCredentials: [s] }]);
    }
    assert.deepEqual(securityOf({ scopes: ['data:write'] }), [{ apiKey: ['data:write'] }]);
  });

  it('a VEN client can never be registered with write_events or write_programs (only a utility\'s business logic), nor anyone with an unknown scope', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    try {
      await migrate(db);
      for (const [kind, scope] of [['ven', 'write_events'], ['ven', 'write_programs'], ['bl', 'write_reports'], ['bl', 'data:write']] as const) {
        await assert.rejects(createClient(db, { name: 'x', kind, scopes: ['read_all', scope] }), (err: HttpProblem) => err.status === 400 && err.field === 'scopes');
      }
      const { client } = await createClient(db, { name: 'ven', kind: 'ven' });
      assert.deepEqual(client.scopes, [...CLIENT_KIND_SCOPES.ven].sort());
    } finally {
      await db.close();
    }
  });
});
