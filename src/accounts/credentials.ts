// Secrets at rest: API keys as SHA-256 (they are 256-bit random, so a fast hash is enough),
// account passwords with scrypt (memory-hard), SIP secrets with AES-256-GCM plus the
// digest forms the switches need.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: string, salt: Buffer, keylen: number, options: crypto.ScryptOptions,
) => Promise<Buffer>;

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keyLength, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Two throwaway hashes at start, one after the other. A scrypt hash needs a 16 MiB working
 * buffer: the first of a process gets it from mmap (faulted in page by page, about 50 ms
 * here) and, on freeing it, glibc raises its mmap threshold; the second then grows the heap
 * by 16 MiB, faulted in once more; from the third on the buffer is reused. Done in the
 * background at start, that cost is off the first logins and `create-reseller`s. With
 * MALLOC_ARENA_MAX=1 (as `npm start` runs) every thread's hash reuses that one buffer.
 */
export async function warmPasswordHashing(): Promise<void> {
  for (let i = 0; i < 2; i++) await hashPassword(crypto.randomBytes(16).toString('hex'));
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const actual = await scrypt(password, salt, expected.length, { N, r, p, maxmem: SCRYPT.maxmem });
  return crypto.timingSafeEqual(actual, expected);
}

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

/**
 * What of an operator-chosen key (ADMIN_API_KEY) is kept in clear to tell keys apart: 4
 * characters. Generated keys keep 10 (`ll_` and 7 random characters, 42 of their 256 bits);
 * a chosen key may have far fewer bits, so it keeps less.
 */
export const ADOPTED_KEY_PREFIX_LENGTH = 4;

export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = `ll_${crypto.randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10) };
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';

/** A random password with lower, upper and digits (always passes the strength rule). */
export function randomPassword(length = 16): string {
  const all = LOWER + UPPER + DIGITS;
  const pick = (set: string) => set[crypto.randomInt(set.length)];
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

export function randomDigits(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(crypto.randomInt(10));
  return out;
}

/** Strength rule for caller-chosen passwords: 8..128 characters with letters and digits. */
export function passwordWeakness(password: unknown): string | null {
  if (typeof password !== 'string') return 'must be a string';
  if (password.length < 8) return 'must be at least 8 characters';
  if (password.length > 128) return 'must be at most 128 characters';
  if (!/[A-Za-z]/.test(password) || !/\d/.test(password)) return 'must contain letters and digits';
  if (/[\s:]/.test(password)) return 'must not contain spaces or colons';
  return null;
}

export const md5Hex = (text: string) => crypto.createHash('md5').update(text).digest('hex');

/** Kamailio/Asterisk digest credentials: ha1 = MD5(user:realm:pw), ha1b = MD5(user@domain:realm:pw). */
export function sipDigests(username: string, realm: string, password: string) {
  return {
    ha1: md5Hex(`${username}:${realm}:${password}`),
    ha1b: md5Hex(`${username}@${realm}:${realm}:${password}`),
  };
}

/**
 * Encrypts secrets at rest with a key derived from LEDGERLINE_SECRET: SIP secrets with the
 * default purpose, other kinds (stored idempotent replies) with their own derived key, so
 * no two kinds of data share a key.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly #master: string;
  readonly #derived = new Map<string, SecretBox>();
  /** Public fingerprint stored in the database to catch a start with the wrong secret. */
  readonly fingerprint: string;

  constructor(masterSecret: string, purpose = 'sip-secret-v1') {
    this.#master = masterSecret;
    this.#key = Buffer.from(crypto.hkdfSync('sha256', masterSecret, 'ledgerline', purpose, 32));
    this.fingerprint = crypto.createHmac('sha256', this.#key).update('fingerprint').digest('hex').slice(0, 16);
  }

  /** A box for another kind of secret, under a key derived from the same master secret. */
  forPurpose(purpose: string): SecretBox {
    let box = this.#derived.get(purpose);
    if (!box) {
      box = new SecretBox(this.#master, purpose);
      this.#derived.set(purpose, box);
    }
    return box;
  }

  encrypt(plain: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
  }

  decrypt(sealed: string): string {
    const [version, iv, tag, ct] = sealed.split(':');
    if (version !== 'v1') throw new Error('unknown secret format');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** LEDGERLINE_SECRET, or the one generated into the data directory on first start. */
export function loadMasterSecret(envSecret: string | undefined, dataDir: string): { secret: string; created: boolean } {
  if (envSecret) return { secret: envSecret, created: false };
  const file = path.join(dataDir, 'secret.key');
  try {
    return { secret: fs.readFileSync(file, 'utf8').trim(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = crypto.randomBytes(32).toString('base64url');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return { secret, created: true };
}
