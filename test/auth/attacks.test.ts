import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT, UnsecuredJWT, generateKeyPair, importJWK, decodeJwt, exportSPKI, type JWK } from 'jose';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn, type SignedIn } from '../support/auth.ts';
import type { Db } from '../../src/platform/db.ts';
import { KeyRing } from '../../src/auth/signing-keys.ts';
import { ACCESS_TOKEN_SECONDS, CLOCK_SKEW_SECONDS, TokenRefused, signAccessToken, verifyAccessToken } from '../../src/auth/access-token.ts';
import { DEFAULT_AUTH } from '../../src/auth/auth-runtime.ts';

const settings = { issuer: DEFAULT_AUTH.issuer, audience: DEFAULT_AUTH.audience };
const PROBLEM = /^application\/problem\+json/;

for (const target of testDatabases()) {
  describe(`attacks on sign-in and tokens, on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let ring: KeyRing;
    let victim: SignedIn;
    let admin: SignedIn;
    let claims: { sid: string; sv: number; sub: string; role: string };

    before(async () => {
      ({ db, app } = await openTestApp(target));
      victim = await signIn(app, db, 'analyst');
      admin = await signIn(app, db, 'admin');
      ring = new KeyRing(db, 'EdDSA');
      claims = decodeJwt(victim.accessToken) as typeof claims;
    });
    after(async () => { await app.close(); await db.close(); });

    const me = (authorization: string) => app.inject({ url: '/api/v1/me', headers: { authorization } });
    const auditCount = async (action: string) => (await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM audit_log WHERE action = $1', [action]))[0]!.n;

    /** The attack is refused with 401 problem+json and WWW-Authenticate, and one more audit record of the action says so. */
    async function refused(send: () => Promise<LightMyRequestResponse>, action = 'auth.token.invalid', reason?: RegExp) {
      const before = await auditCount(action);
      const r = await send();
      assert.equal(r.statusCode, 401, r.body);
      assert.match(r.headers['content-type'] as string, PROBLEM);
      assert.match(r.headers['www-authenticate'] as string, /^Bearer realm="gridpulse"/);
      assert.equal(await auditCount(action), before + 1, `an audit record ${action}`);
      const [last] = await db.query<{ outcome: string; detail: { reason?: string } | string; ip: string | null }>('SELECT outcome, detail, ip FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1', [action]);
      assert.notEqual(last!.outcome, 'success');
      const detail = typeof last!.detail === 'string' ? JSON.parse(last!.detail) as { reason?: string } : last!.detail;
      if (reason) assert.match(detail.reason ?? '', reason);
      return r;
    }

    const privateKey = async () => {
      const [row] = await db.query<{ private_jwk: JWK | string; kid: string }>('SELECT private_jwk, kid FROM signing_keys WHERE retired_at IS NULL OR retired_at > now() ORDER BY created_at DESC LIMIT 1');
      const jwk = typeof row!.private_jwk === 'string' ? JSON.parse(row!.private_jwk) as JWK : row!.private_jwk;
      return { key: await importJWK(jwk, 'EdDSA'), kid: row!.kid };
    };
    /** A token signed with GridPulse's own key, with some part changed. */
    async function forged(change: { header?: Record<string, unknown>; iss?: string; aud?: string; typ?: string; iat?: number; exp?: number } = {}) {
      const { key, kid } = await privateKey();
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: claims.role, sid: claims.sid, sv: claims.sv })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: change.typ ?? 'at+jwt', ...change.header })
        .setIssuer(change.iss ?? settings.issuer).setAudience(change.aud ?? settings.audience).setSubject(claims.sub)
        .setIssuedAt(change.iat ?? now).setNotBefore(change.iat ?? now).setExpirationTime(change.exp ?? now + 600).setJti(crypto.randomUUID())
        .sign(key);
    }

    it('accepts the forging helper\'s untouched token (so each refusal below is the change it makes)', async () => {
      assert.equal((await me(`Bearer ${await forged()}`)).statusCode, 200);
    });

    it('refuses alg "none"', async () => {
      const token = new UnsecuredJWT({ role: 'admin', sid: claims.sid, sv: claims.sv }).setIssuer(settings.issuer).setAudience(settings.audience)
        .setSubject(claims.sub).setIssuedAt().setNotBefore('0s').setExpirationTime('1h').setJti('x').encode();
      await refused(async () => me(`Bearer ${token}`), 'auth.token.invalid', /alg 'none'/);
    });

    it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
      const { keys } = (await app.inject('/.well-known/jwks.json')).json<{ keys: JWK[] }>();
      const pub = await importJWK(keys[0]!, 'EdDSA');
      for (const secret of [new TextEncoder().encode(await exportSPKI(pub as CryptoKey)), new TextEncoder().encode(JSON.stringify(keys[0])), Buffer.from(keys[0]!.x!, 'base64url')]) {
        const token = await new SignJWT({ role: 'admin', sid: claims.sid, sv: claims.sv }).setProtectedHeader({ alg: 'HS256', kid: keys[0]!.kid!, typ: 'at+jwt' })
          .setIssuer(settings.issuer).setAudience(settings.audience).setSubject(claims.sub).setIssuedAt().setNotBefore('0s').setExpirationTime('1h').setJti('y').sign(secret);
        await refused(async () => me(`Bearer ${token}`), 'auth.token.invalid', /alg 'HS256'/);
      }
    });

    it('refuses a token signed by a foreign key under a kid GridPulse does not publish, or under GridPulse\'s own kid', async () => {
      const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const { kid } = await privateKey();
      for (const k of ['attacker-1', kid]) {
        const token = await new SignJWT({ role: 'admin', sid: claims.sid, sv: claims.sv }).setProtectedHeader({ alg: 'EdDSA', kid: k, typ: 'at+jwt' })
          .setIssuer(settings.issuer).setAudience(settings.audience).setSubject(claims.sub).setIssuedAt().setNotBefore('0s').setExpirationTime('1h').setJti('z').sign(foreign.privateKey);
        await refused(async () => me(`Bearer ${token}`), 'auth.token.invalid', k === kid ? /signature/ : /unknown kid/);
      }
    });

    it('refuses tokens whose header carries or points at a key (jwk, jku, x5u), even when GridPulse\'s own key signed them', async () => {
      const { keys } = (await app.inject('/.well-known/jwks.json')).json<{ keys: JWK[] }>();
      for (const header of [{ jku: 'https://attacker.example/jwks.json' }, { jwk: keys[0] }, { x5u: 'https://attacker.example/cert.pem' }]) {
        await refused(async () => me(`Bearer ${await forged({ header })}`), 'auth.token.invalid', /never taken from a token/);
      }
    });

    it('refuses a wrong aud, iss or typ', async () => {
      await refused(async () => me(`Bearer ${await forged({ aud: 'another-api' })}`), 'auth.token.invalid', /aud/);
      await refused(async () => me(`Bearer ${await forged({ iss: 'https://attacker.example' })}`), 'auth.token.invalid', /iss/);
      await refused(async () => me(`Bearer ${await forged({ typ: 'JWT' })}`), 'auth.token.invalid', /typ/);
    });

    it('refuses expired and not-yet-valid tokens through the hook', async () => {
      const t0 = Date.now();
      const old = await signAccessToken(ring, settings, { sub: claims.sub, role: 'analyst', sid: claims.sid, sv: claims.sv }, t0 - (ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS + 5) * 1000);
      await refused(async () => me(`Bearer ${old}`), 'auth.token.invalid', /expired/);
      const future = await signAccessToken(ring, settings, { sub: claims.sub, role: 'analyst', sid: claims.sid, sv: claims.sv }, t0 + (CLOCK_SKEW_SECONDS + 60) * 1000);
      await refused(async () => me(`Bearer ${future}`), 'auth.token.invalid', /nbf|iat/);
    });

    it('refuses a token of ours that lives longer than an hour (exp − iat > 1 h + skew), fresh as it is', async () => {
      const now = Math.floor(Date.now() / 1000);
      await refused(async () => me(`Bearer ${await forged({ iat: now, exp: now + ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS + 1 })}`), 'auth.token.invalid', /lives longer/);
      await refused(async () => me(`Bearer ${await forged({ iat: now - 10, exp: now + 30 * 24 * 3600 })}`), 'auth.token.invalid', /lives longer/);
      assert.equal((await me(`Bearer ${await forged({ iat: now, exp: now + ACCESS_TOKEN_SECONDS })}`)).statusCode, 200, 'an hour is fine');
    });

    it('property: a token is valid from (issue − skew) to (issue + 1 h + skew), and only then', async () => {
      const issued = Date.parse('2026-06-01T12:00:00Z');
      const token = await signAccessToken(ring, settings, { sub: claims.sub, role: 'analyst', sid: claims.sid, sv: claims.sv }, issued);
      const expMs = issued + ACCESS_TOKEN_SECONDS * 1000;
      const skew = CLOCK_SKEW_SECONDS * 1000;
      await fc.assert(fc.asyncProperty(
        // around each boundary (±2 min, to the millisecond), and anywhere in the day around the token
        fc.oneof(fc.integer({ min: -120_000, max: 120_000 }).map((d) => expMs + d), fc.integer({ min: -120_000, max: 120_000 }).map((d) => issued + d),
          fc.integer({ min: -86_400_000, max: 86_400_000 }).map((d) => issued + d)),
        async (at) => {
          // jose compares whole seconds: valid while floor(now) - skew < exp and nbf <= floor(now) + skew
          const sec = Math.floor(at / 1000);
          const shouldPass = sec - CLOCK_SKEW_SECONDS < expMs / 1000 && issued / 1000 <= sec + CLOCK_SKEW_SECONDS;
          let passed = true;
          try { await verifyAccessToken(ring, settings, token, at); } catch (err) { assert.ok(err instanceof TokenRefused); passed = false; }
          assert.equal(passed, shouldPass, `verified at ${new Date(at).toISOString()} (issued ${new Date(issued).toISOString()}, skew ${skew} ms)`);
        }), { numRuns: 300 });
    });

    it('refresh rotates; reusing a spent refresh token revokes the whole family, its access tokens included', async () => {
      const user = await signIn(app, db, 'viewer');
      const r1 = user.refreshToken;
      const first = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: r1 } });
      assert.equal(first.statusCode, 200, first.body);
      const { refreshToken: r2, accessToken: a2 } = first.json<{ refreshToken: string; accessToken: string }>();
      assert.notEqual(r2, r1);
      assert.equal((await me(`Bearer ${a2}`)).statusCode, 200);
      await refused(async () => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: r1 } }), 'auth.refresh.reuse');
      await refused(async () => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: r2 } }), 'auth.refresh', /session revoked/);
      await refused(async () => me(`Bearer ${a2}`), 'auth.token.invalid', /ended/);
      await refused(async () => me(user.headers.authorization), 'auth.token.invalid', /ended/);
    });

    it('refuses a disabled user\'s unexpired token at once', async () => {
      const user = await signIn(app, db, 'operator');
      assert.equal((await me(user.headers.authorization)).statusCode, 200);
      const off = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.userId}`, headers: admin.headers, payload: { status: 'disabled' } });
      assert.equal(off.statusCode, 200, off.body);
      await refused(async () => me(user.headers.authorization), 'auth.token.invalid', /ended|disabled/);
      const again = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } });
      assert.equal(again.statusCode, 401);
    });

    it('refuses a logged-out session\'s token, and "sign out everywhere" ends every session', async () => {
      const user = await signIn(app, db, 'analyst');
      const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: user.headers });
      assert.equal(out.statusCode, 204);
      await refused(async () => me(user.headers.authorization), 'auth.token.invalid', /ended/);
      await refused(async () => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: user.refreshToken } }), 'auth.refresh', /session revoked/);
      const a = await signIn(app, db, 'viewer');
      const b = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: a.email, password: a.password } });
      const bToken = b.json<{ accessToken: string }>().accessToken;
      const all = await app.inject({ method: 'POST', url: '/api/v1/me/sessions/revoke-all', headers: a.headers });
      assert.equal(all.json<{ ended: number }>().ended, 2);
      await refused(async () => me(`Bearer ${bToken}`), 'auth.token.invalid');
      await refused(async () => me(a.headers.authorization), 'auth.token.invalid');
    });

    it('a password change ends every session; the old password no longer signs in', async () => {
      const user = await signIn(app, db, 'viewer', { password: 'an old but long passphrase' });
      const change = await app.inject({ method: 'POST', url: '/api/v1/me/password', headers: user.headers, payload: { currentPassword: user.password, newPassword: 'password123!' } });
      assert.equal(change.statusCode, 400, 'a common password is refused');
      assert.equal(change.json<{ field: string }>().field, 'newPassword');
      const ok = await app.inject({ method: 'POST', url: '/api/v1/me/password', headers: user.headers, payload: { currentPassword: user.password, newPassword: 'a brand new long passphrase' } });
      assert.equal(ok.statusCode, 204, ok.body);
      await refused(async () => me(user.headers.authorization), 'auth.token.invalid', /ended|predates/);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } })).statusCode, 401);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: 'a brand new long passphrase' } })).statusCode, 200);
    });

    it('refuses a forged or stolen API key, and a signed-in user of a role the route does not admit (403, audited)', async () => {
      await refused(async () => me('Bearer gp_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 'auth.token.invalid', /API key/);
      const before = await auditCount('access.denied');
      const res = await app.inject({ url: '/api/v1/admin/audit', headers: victim.headers });
      assert.equal(res.statusCode, 403);
      assert.match(res.headers['content-type'] as string, PROBLEM);
      assert.equal(await auditCount('access.denied'), before + 1);
    });

    it('locks sign-in after repeated failures: a progressive delay from the 3rd, lock-out at the 10th, per account (429, Retry-After, audited)', async () => {
      const user = await signIn(app, db, 'viewer');
      const remoteAddress = '192.0.2.77';
      const attempt = (password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { email: user.email.toUpperCase(), password } });
      for (let i = 1; i <= 3; i++) assert.equal((await attempt(`wrong guess number ${i}`)).statusCode, 401);
      const slowed = await attempt(user.password);
      assert.equal(slowed.statusCode, 429, 'even the right password waits out the delay');
      assert.ok(Number(slowed.headers['retry-after']) >= 1);
      assert.match(slowed.headers['content-type'] as string, PROBLEM);
      // wait out each delay by moving the last failure back (the real clock would take 2 minutes)
      const waitOut = () => db.query(`UPDATE login_throttle SET last_at = last_at - interval '61 seconds' WHERE key = ANY($1::text[])`, [[`account:${user.email.toLowerCase()}`, `ip:${remoteAddress}`]]);
      for (let i = 4; i <= 10; i++) {
        await waitOut();
        assert.equal((await attempt(`wrong guess number ${i}`)).statusCode, 401, `attempt ${i}`);
      }
      await waitOut();
      const locked = await attempt(user.password);
      assert.equal(locked.statusCode, 429);
      assert.ok(Number(locked.headers['retry-after']) > 800, `locked for about 15 minutes (${String(locked.headers['retry-after'])} s)`);
      const [rec] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM audit_log WHERE action = 'auth.login' AND object_id = $1 AND outcome = 'denied'`, [user.email.toLowerCase()]);
      assert.ok(rec!.n >= 2, 'throttled attempts are audited');
      // another account from another address is not affected
      const other = await signIn(app, db, 'viewer');
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '203.0.113.9', payload: { email: other.email, password: other.password } })).statusCode, 200);
    });

    it('answers an unknown account exactly as a wrong password (no account enumeration)', async () => {
      const a = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '198.51.100.1', payload: { email: 'nobody-here@example.org', password: 'whatever it may be' } });
      const b = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '198.51.100.2', payload: { email: victim.email, password: 'whatever it may be' } });
      assert.equal(a.statusCode, 401);
      assert.equal(b.statusCode, 401);
      assert.equal(a.json<{ detail: string }>().detail, b.json<{ detail: string }>().detail);
    });

    it('the audit table refuses UPDATE, DELETE and TRUNCATE', async () => {
      const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM audit_log') as [{ n: number }];
      assert.ok(n > 0);
      for (const sql of [`UPDATE audit_log SET outcome = 'success'`, 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
        await assert.rejects(db.query(sql), /append-only/, sql);
      }
      assert.equal((await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM audit_log'))[0]!.n, n);
    });
  });
}
