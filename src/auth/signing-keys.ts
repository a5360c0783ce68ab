import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../platform/db.ts';

/** The asymmetric algorithms GridPulse signs access tokens with (RFC 8037 Ed25519, or RFC 7518 P-256). */
export const SIGNING_ALGS = ['EdDSA', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** How long a retired key stays published and verifying: longer than any token it signed can live. */
export const RETIRED_KEY_GRACE_SECONDS = 2 * 3600;

interface KeyRow { kid: string; alg: SigningAlg; public_jwk: JWK; private_jwk: JWK; created_at: Date | string; retired_at: Date | string | null }
export interface SigningKey { kid: string; alg: SigningAlg; publicJwk: JWK; publicKey: CryptoKey; privateKey: CryptoKey | undefined; createdAt: Date; retiredAt: Date | null }

const parse = (v: unknown): JWK => (typeof v === 'string' ? JSON.parse(v) as JWK : v as JWK);

async function toKey(r: KeyRow, withPrivate: boolean): Promise<SigningKey> {
  const publicJwk = parse(r.public_jwk);
  return {
    kid: r.kid, alg: r.alg, publicJwk,
    publicKey: await importJWK(publicJwk, r.alg) as CryptoKey,
    privateKey: withPrivate && !r.retired_at ? await importJWK(parse(r.private_jwk), r.alg) as CryptoKey : undefined,
    createdAt: new Date(r.created_at), retiredAt: r.retired_at === null ? null : new Date(r.retired_at),
  };
}

/**
 * Creates a new signing key and retires the previous active ones (they keep verifying, and stay in the
 * JWKS, for RETIRED_KEY_GRACE_SECONDS). The private key is stored in the database as a JWK: protect the
 * database (and its backups) as you protect the keys. `gridpulse keys rotate-signing` calls this.
 */
export async function rotateSigningKey(db: Db, alg: SigningAlg): Promise<{ kid: string; retired: string[] }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`;
  const pub = { ...await exportJWK(publicKey), kid, alg, use: 'sig' };
  const priv = { ...await exportJWK(privateKey), kid, alg };
  return db.transaction(async (tx) => {
    const retired = await tx.query<{ kid: string }>('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL RETURNING kid');
    await tx.query('INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk) VALUES ($1, $2, $3, $4)', [kid, alg, JSON.stringify(pub), JSON.stringify(priv)]);
    return { kid, retired: retired.map((r) => r.kid) };
  });
}

/**
 * The keys this process signs and verifies with, read from the database: the newest active key of the
 * configured algorithm signs; every published key of that algorithm verifies. Reloaded every minute and
 * when a token names a kid not yet seen (at most once a second, so a flood of foreign kids costs little),
 * so a rotation by the CLI or another web copy reaches every process.
 */
export class KeyRing {
  private keys = new Map<string, SigningKey>();
  private signer: SigningKey | undefined;
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
       WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) ORDER BY created_at`, [RETIRED_KEY_GRACE_SECONDS]);
    const keys = new Map<string, SigningKey>();
    for (const r of rows) keys.set(r.kid, await toKey(r, true));
    this.keys = keys;
    this.signer = [...keys.values()].filter((k) => !k.retiredAt && k.alg === this.alg).at(-1);
    this.loadedAt = this.now();
  }

  private reload(minAgeMs: number): Promise<void> {
    if (this.now() - this.loadedAt < minAgeMs) return Promise.resolve();
    this.loading ??= this.load().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  /** The signing key, creating the first one when the database has none. */
  async signingKey(): Promise<SigningKey> {
    await this.reload(60_000);
    if (!this.signer) {
      await rotateSigningKey(this.db, this.alg);
      this.loadedAt = 0;
      await this.reload(0);
    }
    return this.signer!;
  }

  /** The published key with this kid and the configured algorithm, or undefined. */
  async verificationKey(kid: string): Promise<SigningKey | undefined> {
    await this.reload(60_000);
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
