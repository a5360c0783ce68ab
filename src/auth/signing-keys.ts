import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../platform/db.ts';

/** The asymmetric algorithms GridPulse signs access tokens with (RFC 8037 Ed25519, or RFC 7518 P-256). */
export const SIGNING_ALGS = ['EdDSA', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** How long a retired key stays published and verifying: longer than any token it signed can live. */
export const RETIRED_KEY_GRACE_SECONDS = 2 * 3600;
/** How long an outside verifier may keep /.well-known/jwks.json (its Cache-Control max-age). */
export const JWKS_MAX_AGE_SECONDS = 300;
/** How often a process rereads the keys (a rotation by the CLI or another copy reaches it within this). */
export const KEY_RELOAD_SECONDS = 60;
/**
 * A new key is published at once but signs only this long after its creation: every copy has reloaded it
 * (KEY_RELOAD_SECONDS) and every JWKS an outside verifier cached before it was published has expired
 * (JWKS_MAX_AGE_SECONDS), so no verifier meets a token signed by a key missing from its cached JWKS. Until then
 * the previous key keeps signing.
 */
export const KEY_ACTIVATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_RELOAD_SECONDS;

interface KeyRow { kid: string; alg: SigningAlg; public_jwk: JWK; private_jwk: JWK; created_at: Date | string; retired_at: Date | string | null }
export interface SigningKey { kid: string; alg: SigningAlg; publicJwk: JWK; publicKey: CryptoKey; privateKey: CryptoKey | undefined; createdAt: Date; retiredAt: Date | null }

async function toKey(r: KeyRow, withPrivate: boolean): Promise<SigningKey> {
  const publicJwk = r.public_jwk;
  return {
    kid: r.kid, alg: r.alg, publicJwk,
    publicKey: await importJWK(publicJwk, r.alg) as CryptoKey,
    privateKey: withPrivate ? await importJWK(r.private_jwk, r.alg) as CryptoKey : undefined,
    createdAt: new Date(r.created_at), retiredAt: r.retired_at === null ? null : new Date(r.retired_at),
  };
}

/**
 * Creates a new signing key, published at once, signing from KEY_ACTIVATION_DELAY_SECONDS on; the previous
 * active keys retire when it starts signing (they keep signing until then, and keep verifying, and stay in the
 * JWKS, for RETIRED_KEY_GRACE_SECONDS after). `immediate` (a compromised key) retires them now and the new
 * key signs at once: outside verifiers with a cached JWKS then refuse new tokens until their cache expires.
 * The private key is stored in the database as a JWK: protect the database (and its backups) as you protect
 * the keys. `gridpulse keys rotate-signing [--now]` calls this.
 */
export async function rotateSigningKey(db: Db, alg: SigningAlg, opts: { immediate?: boolean } = {}): Promise<{ kid: string; retired: string[]; signsFrom: string }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`;
  const pub = { ...await exportJWK(publicKey), kid, alg, use: 'sig' };
  const priv = { ...await exportJWK(privateKey), kid, alg };
  return db.transaction(async (tx) => {
    const delay = opts.immediate ? 0 : KEY_ACTIVATION_DELAY_SECONDS;
    const retired = await tx.query<{ kid: string }>(
      'UPDATE signing_keys SET retired_at = now() + make_interval(secs => $1) WHERE retired_at IS NULL OR retired_at > now() + make_interval(secs => $1) RETURNING kid', [delay]);
    const [row] = await tx.query<{ signs_from: Date | string }>(
      'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk) VALUES ($1, $2, $3, $4) RETURNING created_at + make_interval(secs => $5) AS signs_from',
      [kid, alg, JSON.stringify(pub), JSON.stringify(priv), KEY_ACTIVATION_DELAY_SECONDS]);
    return { kid, retired: retired.map((r) => r.kid), signsFrom: new Date(row!.signs_from).toISOString() };
  });
}

/**
 * The keys this process signs and verifies with, read from the database: of the configured algorithm's keys not
 * yet retired, the newest one older than KEY_ACTIVATION_DELAY_SECONDS signs (or, when none is that old, the
 * oldest: the first key, the one signing before a rotation, or the only one after an immediate rotation); every published key of that algorithm verifies. Reloaded every minute and
 * when a token names a kid not yet seen (at most once a second, so a flood of foreign kids costs little),
 * so a rotation by the CLI or another web copy reaches every process.
 */
export class KeyRing {
  private keys = new Map<string, SigningKey>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private readonly db: Db;
  readonly alg: SigningAlg;
  private readonly now: () => number;
  constructor(db: Db, alg: SigningAlg, now: () => number = Date.now) {
    this.db = db;
    this.alg = alg;
    this.now = now;
  }

  private async load(): Promise<void> {
    const rows = await this.db.query<KeyRow>(
      `SELECT kid, alg, public_jwk, private_jwk, created_at, retired_at FROM signing_keys
       WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) ORDER BY created_at, kid`, [RETIRED_KEY_GRACE_SECONDS]);
    const keys = new Map<string, SigningKey>();
    for (const r of rows) keys.set(r.kid, await toKey(r, true));
    this.keys = keys;
    this.loadedAt = this.now();
  }

  private reload(minAgeMs: number): Promise<void> {
    if (this.now() - this.loadedAt < minAgeMs) return Promise.resolve();
    this.loading ??= this.load().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  /** The key that signs now (see the class): of the unretired keys, the newest that has passed its activation delay, else the oldest (the one signing until then). */
  private signer(): SigningKey | undefined {
    const t = this.now();
    const usable = [...this.keys.values()].filter((k) => k.alg === this.alg && k.privateKey && (!k.retiredAt || k.retiredAt.getTime() > t));
    return usable.filter((k) => k.createdAt.getTime() + KEY_ACTIVATION_DELAY_SECONDS * 1000 <= t).at(-1) ?? usable[0];
  }

  /** The signing key, creating the first one when the database has none. */
  async signingKey(): Promise<SigningKey> {
    await this.reload(KEY_RELOAD_SECONDS * 1000);
    if (!this.signer()) {
      await rotateSigningKey(this.db, this.alg);
      this.loadedAt = 0;
      await this.reload(0);
    }
    return this.signer()!;
  }

  /** The published key with this kid and the configured algorithm, or undefined. */
  async verificationKey(kid: string): Promise<SigningKey | undefined> {
    await this.reload(KEY_RELOAD_SECONDS * 1000);
    if (!this.keys.has(kid)) await this.reload(1_000);
    const key = this.keys.get(kid);
    return key && key.alg === this.alg ? key : undefined;
  }

  /** The public keys as a JWK Set (RFC 7517), for /.well-known/jwks.json. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.signingKey();
    return { keys: [...this.keys.values()].filter((k) => k.alg === this.alg).map((k) => k.publicJwk) };
  }
}
