/**
 * Shared fixtures for the wire tests: one message of every type with its
 * frame written out by hand from the layouts of BEP 3 (core messages), BEP 6
 * (fast extension), BEP 9/10/11 (extension messages), so that the codec is
 * checked against bytes it did not make; and a recorded stream made of those
 * frames.
 */
import type { PeerMessage } from '../src/wire/messages.js';
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

/** Bytes from hex written with spaces between fields: `'0000000d 06 00000003'`. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/.test(clean)) throw new Error(`not hex: ${text}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** ASCII text as bytes (bencoded payloads). */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A message and its frame: 4-byte big-endian length, 1-byte id, payload (BEP 3). */
export interface KnownFrame {
  message: PeerMessage;
  frame: Uint8Array;
}

/** One message of every type and its frame, by hand (the bitfield fits SHAPE). */
export function knownFrames(): KnownFrame[] {
  const piece = block(1000);
  return [
    // BEP 3: a keep-alive is a zero length and nothing else.
    { message: { type: 'keep-alive' }, frame: hex('00000000') },
    { message: { type: 'choke' }, frame: hex('00000001 00') },
    { message: { type: 'unchoke' }, frame: hex('00000001 01') },
    { message: { type: 'interested' }, frame: hex('00000001 02') },
    { message: { type: 'not-interested' }, frame: hex('00000001 03') },
    { message: { type: 'have', index: 7 }, frame: hex('00000005 04 00000007') },
    { message: { type: 'bitfield', bytes: Uint8Array.from([0xa5, 0x40]) }, frame: hex('00000003 05 a540') },
    // request and cancel: index, begin, length; 16384 = 0x4000.
    { message: { type: 'request', index: 3, begin: 16384, length: 16384 }, frame: hex('0000000d 06 00000003 00004000 00004000') },
    // piece: index, begin, then the block; 9 + 1000 = 0x3f1.
    { message: { type: 'piece', index: 9, begin: 0, block: piece }, frame: concat([hex('000003f1 07 00000009 00000000'), piece]) },
    { message: { type: 'cancel', index: 3, begin: 16384, length: 16384 }, frame: hex('0000000d 08 00000003 00004000 00004000') },
    // BEP 5: the DHT port, 6881 = 0x1ae1.
    { message: { type: 'port', port: 6881 }, frame: hex('00000003 09 1ae1') },
    // BEP 6: suggest 0x0d, have all 0x0e, have none 0x0f, reject 0x10, allowed fast 0x11.
    { message: { type: 'suggest', index: 2 }, frame: hex('00000005 0d 00000002') },
    { message: { type: 'have-all' }, frame: hex('00000001 0e') },
    { message: { type: 'have-none' }, frame: hex('00000001 0f') },
    { message: { type: 'reject', index: 1, begin: 32768, length: 16384 }, frame: hex('0000000d 10 00000001 00008000 00004000') },
    { message: { type: 'allowed-fast', index: 4 }, frame: hex('00000005 11 00000004') },
    // BEP 10: id 20 (0x14), then the extension id; 0 is the extension handshake (80 bytes of bencode here).
    {
      message: { type: 'extended', id: 0, payload: ascii('d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei1234e1:pi6881e1:v9:swarm 0.1e') },
      frame: concat([hex('00000052 14 00'), ascii('d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei1234e1:pi6881e1:v9:swarm 0.1e')]),
    },
    // BEP 9: a metadata request for piece 0.
    { message: { type: 'extended', id: 3, payload: ascii('d8:msg_typei0e5:piecei0ee') }, frame: concat([hex('0000001b 14 03'), ascii('d8:msg_typei0e5:piecei0ee')]) },
    // BEP 11: one peer added, 127.0.0.2:51413 (0xc8d5), flags 0x02 (seed).
    {
      message: { type: 'extended', id: 4, payload: concat([ascii('d5:added6:'), hex('7f000002 c8d5'), ascii('7:added.f1:'), hex('02'), ascii('7:dropped0:e')]) },
      frame: concat([hex('0000002a 14 04'), ascii('d5:added6:'), hex('7f000002 c8d5'), ascii('7:added.f1:'), hex('02'), ascii('7:dropped0:e')]),
    },
    // An id no BEP gives (99 = 0x63): decoded as unknown, payload kept.
    { message: { type: 'unknown', id: 99, payload: Uint8Array.from([1, 2, 3]) }, frame: hex('00000004 63 010203') },
  ];
}

/** One message of every type (the bitfield fits SHAPE). */
export function everyMessage(): PeerMessage[] {
  return knownFrames().map((k) => k.message);
}

/**
 * A handshake-free stream as a client would see it, as frames written by
 * hand: bitfield first, then a mix of every message and some pieces: with
 * `big`, a 128 KiB block and 16 KiB blocks; without, 1 KiB blocks (small
 * enough to sweep every offset).
 */
export function recordedFrames(big = true): KnownFrame[] {
  const out: KnownFrame[] = [{ message: { type: 'bitfield', bytes: Uint8Array.from([0xff, 0xc0]) }, frame: hex('00000003 05 ffc0') }];
  out.push(...knownFrames().filter((k) => k.message.type !== 'bitfield'));
  if (big) {
    const b = block(128 * 1024, 7);
    // 9 + 131072 = 0x20009.
    out.push({ message: { type: 'piece', index: 0, begin: 0, block: b }, frame: concat([hex('00020009 07 00000000 00000000'), b]) });
  }
  // Length 9 + 16384 = 0x4009, begins 0x4000 apart; or 9 + 1024 = 0x409, begins 0x400 apart.
  const size = big ? 16384 : 1024;
  const headers = big
    ? ['00004009 07 00000001 00000000', '00004009 07 00000001 00004000', '00004009 07 00000001 00008000', '00004009 07 00000001 0000c000']
    : ['00000409 07 00000001 00000000', '00000409 07 00000001 00000400', '00000409 07 00000001 00000800', '00000409 07 00000001 00000c00'];
  for (let i = 0; i < 4; i++) {
    const b = block(size, i + 2);
    out.push({ message: { type: 'piece', index: 1, begin: i * size, block: b }, frame: concat([hex(headers[i]!), b]) });
    out.push({ message: { type: 'keep-alive' }, frame: hex('00000000') });
  }
  out.push({ message: { type: 'have', index: 9 }, frame: hex('00000005 04 00000009') });
  return out;
}

export function recordedMessages(big = true): PeerMessage[] {
  return recordedFrames(big).map((k) => k.message);
}

export function recordedStream(big = true): { messages: PeerMessage[]; frames: Uint8Array[]; bytes: Uint8Array } {
  const known = recordedFrames(big);
  const frames = known.map((k) => k.frame);
  return { messages: known.map((k) => k.message), frames, bytes: concat(frames) };
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
