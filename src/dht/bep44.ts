/**
 * BEP 44 items: targets, the signature buffer, ed25519 signing and
 * verification (node:crypto), size limits and the BEP's error codes.
 * Pure: no sockets, files or timers.
 *
 * Namespace keys (`peer kv --namespace NAME`): the key pair is derived from
 * the name alone, so anyone who knows the name derives the same pair:
 *   seed = SHA-256("swarm-peer kv namespace:" + NAME as UTF-8)
 *   private key = the ed25519 key whose 32-byte seed (RFC 8032 secret) is `seed`
 * Everyone who knows NAME can read and write its keys; nobody else can
 * forge a value under it. Keys within a namespace are the BEP 44 salt.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { DhtError } from '../errors.js';
import { encode, type BValue } from '../bencode/index.js';
import { sha1 } from '../util/hash.js';
import type { MutableFields } from './krpc.js';

/** BEP 44: a storing node may refuse a bencoded `v` longer than this; so do we. */
export const MAX_VALUE_BYTES = 1000;
/** BEP 44: the salt must not be longer than this. */
export const MAX_SALT_BYTES = 64;
/** BEP 44 SHOULD: seq fits in a signed 64-bit integer; we also stay within JS safe integers. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** BEP 44 error codes. */
export const BEP44_VALUE_TOO_BIG = 205;
export const BEP44_INVALID_SIGNATURE = 206;
export const BEP44_SALT_TOO_BIG = 207;
export const BEP44_CAS_MISMATCH = 301;
export const BEP44_SEQ_TOO_LOW = 302;

const te = new TextEncoder();

/** Immutable target: SHA-1 of the bencoded value. */
export function immutableTarget(vRaw: Uint8Array): Uint8Array {
  return sha1(vRaw);
}

/** Mutable target: SHA-1 of the public key followed by the salt (if any). */
export function mutableTarget(k: Uint8Array, salt?: Uint8Array): Uint8Array {
  return salt && salt.length > 0 ? sha1(k, salt) : sha1(k);
}

/**
 * The bytes signed for a mutable item:
 * `4:salt<len>:<salt>` (only for a non-empty salt) `3:seqi<seq>e1:v` + bencoded v.
 */
export function signatureBuffer(item: { salt?: Uint8Array; seq: number; v: Uint8Array }): Uint8Array {
  const parts: Uint8Array[] = [];
  if (item.salt && item.salt.length > 0) parts.push(te.encode(`4:salt${item.salt.length}:`), item.salt);
  parts.push(te.encode(`3:seqi${item.seq}e1:v`), item.v);
  return Buffer.concat(parts);
}

// --- ed25519 over node:crypto ------------------------------------------------

/** DER prefixes that wrap a raw 32-byte ed25519 key (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519KeyPair {
  /** Raw 32-byte public key (BEP 44 `k`). */
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function keyPairFromPrivateKey(privateKey: KeyObject): Ed25519KeyPair {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new DhtError(`not an ed25519 private key: ${privateKey.asymmetricKeyType}`, 201);
  return { publicKey: rawPublicKey(privateKey), privateKey };
}

/** The key pair whose RFC 8032 32-byte secret is `seed`. */
export function keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw new RangeError(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return keyPairFromPrivateKey(privateKey);
}

/** The 32-byte seed of a private key (to persist it). */
export function seedOf(privateKey: KeyObject): Uint8Array {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function generateKeyPair(): Ed25519KeyPair {
  return keyPairFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/** Deterministic key pair of a KV namespace (see the file comment). */
export function namespaceKeyPair(name: string): Ed25519KeyPair {
  const seed = createHash('sha256').update(`swarm-peer kv namespace:${name}`, 'utf8').digest();
  return keyPairFromSeed(seed);
}

export function signBuffer(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

/** ed25519 verification against a raw public key; any malformed key or signature is just `false`. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

// --- values and checks ---------------------------------------------------------

/** Bencodes a value for an item and checks the 1000-byte limit (BEP 44). */
export function encodeItemValue(v: BValue): Uint8Array {
  const raw = encode(v);
  if (raw.length > MAX_VALUE_BYTES) {
    throw new DhtError(`value too big: ${raw.length} bytes bencoded, BEP 44 items hold at most ${MAX_VALUE_BYTES}`, BEP44_VALUE_TOO_BIG);
  }
  return raw;
}

/** A signed mutable item as stored and served. */
export interface MutableItem {
  k: Uint8Array;
  salt?: Uint8Array;
  seq: number;
  sig: Uint8Array;
  /** Raw bencoded value. */
  v: Uint8Array;
}

export function signMutable(keyPair: Ed25519KeyPair, item: { salt?: Uint8Array; seq: number; v: Uint8Array }): MutableItem {
  checkSizes(item.v, item.salt);
  if (!Number.isSafeInteger(item.seq) || item.seq < 0) throw new RangeError(`seq must be a non-negative integer, got ${item.seq}`);
  const sig = signBuffer(keyPair.privateKey, signatureBuffer(item));
  return { k: keyPair.publicKey, seq: item.seq, sig, v: item.v, ...(item.salt && item.salt.length ? { salt: item.salt } : {}) };
}

function checkSizes(v: Uint8Array, salt?: Uint8Array): void {
  if (v.length > MAX_VALUE_BYTES) throw new DhtError(`v too big: ${v.length} bytes, at most ${MAX_VALUE_BYTES}`, BEP44_VALUE_TOO_BIG);
  if (salt && salt.length > MAX_SALT_BYTES) throw new DhtError(`salt too big: ${salt.length} bytes, at most ${MAX_SALT_BYTES}`, BEP44_SALT_TOO_BIG);
}

/**
 * Checks an incoming `put` (sizes 205/207, signature 206) and returns its
 * target. Throws a DhtError carrying the BEP 44 code to answer with.
 */
export function checkPut(v: Uint8Array, mutable?: MutableFields): Uint8Array {
  checkSizes(v, mutable?.salt);
  if (!mutable) return immutableTarget(v);
  if (mutable.seq > MAX_SEQ) throw new DhtError(`seq ${mutable.seq} out of range`, 203);
  const buf = signatureBuffer({ salt: mutable.salt, seq: mutable.seq, v });
  if (!verifySignature(mutable.k, buf, mutable.sig)) throw new DhtError('invalid signature', BEP44_INVALID_SIGNATURE);
  return mutableTarget(mutable.k, mutable.salt);
}

/**
 * Whether a verified mutable put may replace what a node stores (BEP 44):
 * `cas` must match the stored seq (301); seq may not go back (302); an equal
 * seq is accepted only for the same value (a re-announce, which refreshes
 * the item's lifetime).
 */
export function checkUpdate(stored: { seq: number; v: Uint8Array } | undefined, put: MutableFields, v: Uint8Array): void {
  if (!stored) return;
  if (put.cas !== undefined && put.cas !== stored.seq) {
    throw new DhtError(`cas mismatch: stored seq is ${stored.seq}, cas was ${put.cas}`, BEP44_CAS_MISMATCH);
  }
  if (put.seq < stored.seq) throw new DhtError(`sequence number less than current (${put.seq} < ${stored.seq})`, BEP44_SEQ_TOO_LOW);
  if (put.seq === stored.seq && Buffer.compare(v, stored.v) !== 0) {
    throw new DhtError(`sequence number ${put.seq} already holds a different value`, BEP44_SEQ_TOO_LOW);
  }
}

/** A `get` answer worth keeping, after the checks a requesting node must make. */
export type VerifiedItem = { kind: 'immutable'; v: Uint8Array } | ({ kind: 'mutable' } & MutableItem);

/**
 * Verifies a get response for `target` (BEP 44: the requester checks the
 * hash and the signature). Returns undefined when the response has no value
 * or does not check out.
 */
export function verifyGetResponse(target: Uint8Array, salt: Uint8Array | undefined, r: { v?: Uint8Array; k?: Uint8Array; sig?: Uint8Array; seq?: number }): VerifiedItem | undefined {
  if (!r.v || r.v.length > MAX_VALUE_BYTES) return undefined;
  if (r.k && r.sig && r.seq !== undefined) {
    if (Buffer.compare(mutableTarget(r.k, salt), target) !== 0) return undefined;
    if (!verifySignature(r.k, signatureBuffer({ salt, seq: r.seq, v: r.v }), r.sig)) return undefined;
    return { kind: 'mutable', k: r.k, seq: r.seq, sig: r.sig, v: r.v, ...(salt && salt.length ? { salt } : {}) };
  }
  if (Buffer.compare(immutableTarget(r.v), target) !== 0) return undefined;
  return { kind: 'immutable', v: r.v };
}
