import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpProblem } from '../platform/problem.ts';

/**
 * Passwords are hashed with scrypt (node:crypto, RFC 7914) at OWASP's Password Storage Cheat Sheet
 * parameters: N = 2^17 (CPU/memory cost), r = 8 (block size), p = 1, a 16-byte random salt, a 32-byte key.
 * That is 128 MiB and roughly 0.2–0.5 s per hash on one libuv thread (never the event loop). The stored
 * text carries its parameters, so raising them later still verifies old hashes (and `needsRehash` says so).
 */
export const SCRYPT = { log2N: 17, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;

function scrypt(password: string, salt: Buffer, keyLength: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLength, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const options = (log2N: number, r: number, p: number): ScryptOptions => ({ N: 2 ** log2N, r, p, maxmem: 2 ** log2N * r * 128 * 2 });

// NFKC so that the same password typed on two keyboards (composed or decomposed accents) is the same (NIST SP 800-63B 5.1.1.2).
const normal = (password: string) => password.normalize('NFKC');

/** 'scrypt$17$8$1$<salt>$<key>' (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLength);
  const key = await scrypt(normal(password), salt, SCRYPT.keyLength, options(SCRYPT.log2N, SCRYPT.r, SCRYPT.p));
  return `scrypt$${SCRYPT.log2N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

const STORED = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

/** Whether a password matches a stored hash (constant-time compare); false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = STORED.exec(stored);
  if (!m) return false;
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (log2N < 10 || log2N > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  const key = await scrypt(normal(password), Buffer.from(m[4]!, 'base64url'), expected.length, options(log2N, r, p));
  return timingSafeEqual(key, expected);
}

/** A hash made with weaker parameters than today's. */
export const needsRehash = (stored: string): boolean => !stored.startsWith(`scrypt$${SCRYPT.log2N}$${SCRYPT.r}$${SCRYPT.p}$`);

/** A hash of a random password: verified against when the account does not exist, so timing does not tell. */
let decoy: Promise<string> | undefined;
export const decoyHash = (): Promise<string> => (decoy ??= hashPassword(randomBytes(16).toString('hex')));

let common: Set<string> | undefined;
/**
 * common-passwords.txt: the most frequent passwords of public breach corpora (the head of SecLists'
 * Passwords/Common-Credentials lists, MIT), those of 8 or more characters, lower-cased. Small on purpose:
 * the length rule already excludes the short ones; this catches the long-but-famous ones.
 */
function commonPasswords(): Set<string> {
  common ??= new Set(readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8').split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#')));
  return common;
}

/**
 * Refuses (400 naming `password`) a password that is too short or long, or on the common list (also with
 * digits or punctuation stripped from its end, 'password123!' being 'password'), or that contains the
 * e-mail's name. NIST SP 800-63B: length and a blocklist, no composition rules.
 */
export function checkPasswordPolicy(password: string, email?: string, field = 'password'): void {
  const p = normal(password);
  const length = [...p].length;
  if (length < MIN_PASSWORD_LENGTH) throw new HttpProblem(400, `${field}: at least ${MIN_PASSWORD_LENGTH} characters (got ${length})`, field);
  if (length > MAX_PASSWORD_LENGTH) throw new HttpProblem(400, `${field}: at most ${MAX_PASSWORD_LENGTH} characters`, field);
  const lower = p.toLowerCase();
  const stem = lower.replace(/[\d\W_]+$/u, '');
  const list = commonPasswords();
  if (list.has(lower) || list.has(stem) || /^(.)\1+$/u.test(p)) throw new HttpProblem(400, `${field}: this password is on a list of commonly used passwords; choose another`, field);
  const name = email?.split('@')[0]?.toLowerCase();
  if (name && name.length >= 4 && lower.includes(name)) throw new HttpProblem(400, `${field}: must not contain your e-mail address`, field);
}
