import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader, type JWK } from 'jose';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn } from '../support/auth.ts';
import type { Db } from '../../src/platform/db.ts';
import { JWKS_MAX_AGE_SECONDS, KEY_ACTIVATION_DELAY_SECONDS, KEY_RELOAD_SECONDS, KeyRing, rotateSigningKey } from '../../src/auth/signing-keys.ts';
import { signAccessToken } from '../../src/auth/access-token.ts';
import { DEFAULT_AUTH } from '../../src/auth/auth-runtime.ts';
import { openDb } from '../../src/platform/db.ts';
import { buildApp } from '../../src/app.ts';
import { memoryCache } from '../../src/platform/cache.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

for (const target of testDatabases()) {
  describe(`signing-key rotation on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });

    it('a rotation (by the CLI or another copy) is picked up: the new key is published at once, signs only after the JWKS max-age, old tokens keep verifying', async () => {
      const user = await signIn(app, db, 'viewer');
      const oldKid = decodeProtectedHeader(user.accessToken).kid;
      const jwksBefore = (await app.inject('/.well-known/jwks.json')).json<{ keys: JWK[] }>(); // an outside verifier's cache
      const { kid } = await rotateSigningKey(db, 'EdDSA');
      const rotatedAt = Date.now();
      assert.notEqual(kid, oldKid);
      const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string; sv: number };
      const signAt = async (t: number) => decodeProtectedHeader(await signAccessToken(new KeyRing(db, 'EdDSA', () => t), DEFAULT_AUTH, { sub: claims.sub, role: 'viewer', sid: claims.sid, sv: claims.sv }, t)).kid;
      // a JWKS cached just before the rotation stays fresh JWKS_MAX_AGE_SECONDS: every copy keeps signing with a key it holds
      assert.ok(jwksBefore.keys.some((k) => k.kid === oldKid) && !jwksBefore.keys.some((k) => k.kid === kid));
      for (const after of [0, 60, JWKS_MAX_AGE_SECONDS, JWKS_MAX_AGE_SECONDS + KEY_RELOAD_SECONDS - 5]) {
        assert.equal(await signAt(rotatedAt + after * 1000), oldKid, `${after} s after the rotation the old key still signs`);
      }
      assert.ok(KEY_ACTIVATION_DELAY_SECONDS > JWKS_MAX_AGE_SECONDS + 30, 'the delay outlasts the JWKS max-age');
      assert.deepEqual(new Set((await new KeyRing(db, 'EdDSA').jwks()).keys.map((k) => k.kid)), new Set([oldKid, kid]), 'the next key is published at once (by every copy within its reload)');
      const maxAge = /max-age=(\d+)/.exec(String((await app.inject('/.well-known/jwks.json')).headers['cache-control']))?.[1];
      assert.equal(Number(maxAge), JWKS_MAX_AGE_SECONDS);
      const later = rotatedAt + (KEY_ACTIVATION_DELAY_SECONDS + 5) * 1000;
      assert.equal(await signAt(later), kid, 'after the activation delay the new key signs');
      const fresh = await signAccessToken(new KeyRing(db, 'EdDSA', () => later), DEFAULT_AUTH, { sub: claims.sub, role: 'viewer', sid: claims.sid, sv: claims.sv });
      await sleep(1100); // an unknown kid reloads the ring at most once a second
      assert.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${fresh}` } })).statusCode, 200);
      const jwks = (await app.inject('/.well-known/jwks.json')).json<{ keys: JWK[] }>();
      assert.deepEqual(new Set(jwks.keys.map((k) => k.kid)), new Set([oldKid, kid]));
      assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private part is published');
      assert.equal((await app.inject({ url: '/api/v1/me', headers: user.headers })).statusCode, 200, 'a retiring key verifies');
      // an immediate rotation (a compromised key): the new key signs at once, the old ones retire now
      const urgent = await rotateSigningKey(db, 'EdDSA', { immediate: true });
      assert.equal(await signAt(Date.now()), urgent.kid);
      // past the grace the retired key is gone: its tokens are refused
      await db.query(`UPDATE signing_keys SET retired_at = now() - interval '3 hours' WHERE kid = ANY($1::text[])`, [[oldKid, kid]]);
      const gone = new KeyRing(db, 'EdDSA');
      assert.deepEqual((await gone.jwks()).keys.map((k) => k.kid), [urgent.kid]);
    });
  });
}

/** Runs the CLI in its own process (the embedded store in dataDir), with text on standard input. */
function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('gridpulse users and keys commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gp-auth-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a weak first password before touching the store', { timeout: 300_000 }, async () => {
    const weak = await cli(['users', 'create', '--email', 'root@example.org', '--role', 'admin', '--password-stdin'], { DATA_DIR: dir }, 'password123\n');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /password: at least 12 characters/);
  });

  it('creates the first admin from a password on stdin, another user with a one-time link, and a worker key with --role worker', { timeout: 300_000 }, async () => {
    const env = { DATA_DIR: dir, PUBLIC_URL: 'https://grid.example.org' };
    const admin = await cli(['users', 'create', '--email', 'Root@Example.org', '--role', 'admin', '--password-stdin'], env, 'first admin passphrase\n');
    assert.equal(admin.code, 0, admin.stderr);
    const linked = await cli(['users', 'create', '--email', 'ana@example.org', '--role', 'analyst'], env);
    assert.equal(linked.code, 0, linked.stderr);
    const link = linked.stdout.trim();
    assert.match(link, /^https:\/\/grid\.example\.org\/invite\/gpi_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const key = await cli(['keys', 'create', '--role', 'worker', '--name', 'pi'], env);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout.trim(), /^gp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const rotated = await cli(['keys', 'rotate-signing'], env);
    assert.equal(rotated.code, 0, rotated.stderr);

    const db = await openDb({ dataDir: dir });
    const app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
    try {
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'root@example.org', password: 'first admin passphrase' } });
      assert.equal(login.statusCode, 200, login.body);
      const token = link.split('/invite/')[1]!;
      const accept = await app.inject({ method: 'POST', url: '/api/v1/auth/invitations/accept', payload: { token, password: 'analyst chose this phrase' } });
      assert.equal(accept.statusCode, 201, accept.body);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/invitations/accept', payload: { token, password: 'analyst chose this phrase' } })).statusCode, 400, 'single use');
      assert.equal((await app.inject({ url: '/api/v1/data/latest?series=CISO.demand', headers: { authorization: `Bearer ${key.stdout.trim()}` } })).statusCode, 200);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ana@example.org', password: 'analyst chose this phrase' } })).statusCode, 200);
      const actions = (await db.query<{ action: string }>('SELECT action FROM audit_log ORDER BY id')).map((r) => r.action);
      for (const a of ['users.create', 'keys.create', 'keys.rotate-signing', 'auth.login', 'invitations.accept']) assert.ok(actions.includes(a), `${a} audited`);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
