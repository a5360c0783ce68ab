import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Db } from '../platform/db.ts';
import { DEVICE_ID } from './messages.ts';

/**
 * A device's broker credentials: MQTT username = the device id, password = 32 random bytes (base64url) shown
 * once at provisioning. Only its SHA-256 is stored (devices.mqtt_password_hash): the secret is random and
 * long, so a slow password hash would add nothing but time to every broker connection.
 */
export const newMqttPassword = (): string => randomBytes(32).toString('base64url');
export const hashMqttPassword = (password: string): string => createHash('sha256').update(password, 'utf8').digest('hex');

interface CredentialState { hash: string; active: boolean }
/** How long a process trusts what it read about a device's credentials (a revocation is seen within this). */
export const CREDENTIAL_TTL_MS = 30_000;
const caches = new WeakMap<Db, LRUCache<string, CredentialState>>();
/** every cache of this process, so a revocation made through a transaction's Db reaches the cache of its root Db */
const allCaches = new Set<LRUCache<string, CredentialState>>();
const cacheOf = (db: Db) => {
  let c = caches.get(db);
  if (!c) { c = new LRUCache({ max: 50_000, ttl: CREDENTIAL_TTL_MS }); caches.set(db, c); allCaches.add(c); }
  return c;
};

/**
 * The device id when `username`/`password` are the MQTT credentials of an active (not revoked) device, else
 * null. For the embedded Aedes broker's authenticate hook: each device's state is read once and kept for
 * CREDENTIAL_TTL_MS in this process (like the API keys' state), so 10,000 reconnecting devices cost 10,000
 * primary-key reads at most, then none. The password is compared in constant time.
 */
export async function verifyDeviceMqtt(db: Db, username: string, password: string | Buffer): Promise<string | null> {
  if (!DEVICE_ID.test(username)) return null;
  const cache = cacheOf(db);
  let state = cache.get(username);
  if (!state) {
    const [row] = await db.query<{ mqtt_password_hash: string; revoked_at: unknown }>(
      'SELECT mqtt_password_hash, revoked_at FROM devices WHERE id = $1', [username]);
    state = row ? { hash: row.mqtt_password_hash, active: row.revoked_at === null } : { hash: '', active: false };
    cache.set(username, state);
  }
  if (!state.active) return null;
  const given = Buffer.from(hashMqttPassword(typeof password === 'string' ? password : password.toString('utf8')), 'hex');
  return timingSafeEqual(given, Buffer.from(state.hash, 'hex')) ? username : null;
}

/** Drops what this process cached about these devices' credentials (after a revocation or a new password). */
export function forgetDeviceCredentials(deviceIds: readonly string[]): void {
  for (const cache of allCaches) for (const id of deviceIds) cache.delete(id);
}
