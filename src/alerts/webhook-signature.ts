import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, in the scheme Stripe and Standard Webhooks popularised: the receiver recomputes
 * HMAC-SHA256(secret, `${timestamp}.${body}`) over the raw body and compares in constant time; the
 * timestamp (Unix seconds, also sent in X-GridPulse-Timestamp) is signed too, so a captured delivery
 * cannot be replayed later than the receiver's tolerance.
 */
export const SIGNATURE_HEADER = 'x-gridpulse-signature';
export const TIMESTAMP_HEADER = 'x-gridpulse-timestamp';
export const DELIVERY_HEADER = 'x-gridpulse-delivery';

/** A new per-alert signing secret: `whsec_` + 32 random bytes, base64url. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: true when `signature` is the signature of this timestamp and body under `secret`
 * and the timestamp lies within `toleranceSeconds` of `nowSeconds` (default 5 minutes).
 */
export function verifyWebhook(secret: string, headers: { signature: string | undefined; timestamp: string | undefined }, body: string,
  nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = 300): boolean {
  if (!headers.signature || !headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp)) return false;
  const ts = Number(headers.timestamp);
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body));
  const given = Buffer.from(headers.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
