import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import { KeyRing, type SigningAlg } from './signing-keys.ts';
import type { AuthDeps } from './sessions.ts';

export interface AuthOptions { alg: SigningAlg; issuer: string; audience: string }
export const DEFAULT_AUTH: AuthOptions = { alg: 'EdDSA', issuer: 'gridpulse', audience: 'gridpulse-api' };

/** The identity core's dependencies for one process: its key ring on the database, and the shared cache. */
export function createAuth(db: Db, cache: Cache, opts: Partial<AuthOptions> = {}, now?: () => number): AuthDeps {
  const o = { ...DEFAULT_AUTH, ...opts };
  return { db, cache, ring: new KeyRing(db, o.alg, now), settings: { issuer: o.issuer, audience: o.audience }, ...(now ? { now } : {}) };
}
