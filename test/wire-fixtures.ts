/** Shared fixtures for the wire tests: one message of every type and a recorded stream. */
import { encodeExtendedHandshake } from '../src/wire/extension.js';
import { encodeMessage, type PeerMessage } from '../src/wire/messages.js';
import { encodeMetadataMessage } from '../src/wire/ut-metadata.js';
import { encodePex } from '../src/wire/ut-pex.js';
import type { TorrentShape } from '../src/wire/validate.js';

/** 10 pieces of 256 KiB, the last one 1000 bytes. */
export const SHAPE: TorrentShape = { pieceLength: 256 * 1024, pieceCount: 10, totalLength: 9 * 256 * 1024 + 1000 };

export function block(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** One message of every type (the bitfield fits SHAPE). */
export function everyMessage(): PeerMessage[] {
  return [
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have', index: 7 },
    { type: 'bitfield', bytes: Uint8Array.from([0xa5, 0x40]) },
    { type: 'request', index: 3, begin: 16384, length: 16384 },
    { type: 'piece', index: 9, begin: 0, block: block(1000) },
    { type: 'cancel', index: 3, begin: 16384, length: 16384 },
    { type: 'port', port: 6881 },
    { type: 'suggest', index: 2 },
    { type: 'have-all' },
    { type: 'have-none' },
    { type: 'reject', index: 1, begin: 32768, length: 16384 },
    { type: 'allowed-fast', index: 4 },
    { type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: { ut_metadata: 1, ut_pex: 2 }, p: 6881, v: 'swarm 0.1', metadataSize: 1234 }) },
    { type: 'extended', id: 3, payload: encodeMetadataMessage({ msgType: 'request', piece: 0 }) },
    { type: 'extended', id: 4, payload: encodePex({ added: [{ host: '127.0.0.2', port: 51413 }], addedFlags: [2], dropped: [] }) },
    { type: 'unknown', id: 99, payload: Uint8Array.from([1, 2, 3]) },
  ];
}

/**
 * A handshake-free stream as a client would see it: bitfield first, then a
 * mix of every message and some pieces: with `big`, a 128 KiB block and
 * 16 KiB blocks; without, 1 KiB blocks (small enough to sweep every offset).
 */
export function recordedMessages(big = true): PeerMessage[] {
  const msgs: PeerMessage[] = [{ type: 'bitfield', bytes: Uint8Array.from([0xff, 0xc0]) }, ...everyMessage().filter((m) => m.type !== 'bitfield')];
  const size = big ? 16384 : 1024;
  if (big) msgs.push({ type: 'piece', index: 0, begin: 0, block: block(128 * 1024, 7) });
  for (let i = 0; i < 4; i++) msgs.push({ type: 'piece', index: 1, begin: i * size, block: block(size, i + 2) }, { type: 'keep-alive' });
  msgs.push({ type: 'have', index: 9 });
  return msgs;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function recordedStream(big = true): { messages: PeerMessage[]; bytes: Uint8Array } {
  const messages = recordedMessages(big);
  return { messages, bytes: concat(messages.map(encodeMessage)) };
}

/** Plain arrays instead of byte views so deepEqual compares contents, not buffers. */
export function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

/** Deep equality where byte fields compare by content (cheap enough for big blocks). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}
