/**
 * The BEP 3 handshake: `<19><"BitTorrent protocol"><8 reserved><20 info-hash><20 peer id>`,
 * 68 bytes, not length-prefixed like the messages that follow it.
 *
 * Why the handshake can be read in two parts: a listener serving many
 * torrents must pick the torrent from the info-hash (byte 28..48) and answer
 * with its own handshake before it knows the remote's peer id, because some
 * clients only send their peer id after they saw ours. `HandshakeReader`
 * reports the 48-byte head as soon as it is in (`decodeHandshakeHead`), and
 * the whole handshake once the peer id follows (`decodePeerId`).
 *
 * Errors: a remote's malformed handshake is a `ProtocolError`; passing
 * wrong-sized ids to the encoder is our own bug and throws a `RangeError`.
 */
import { ProtocolError } from '../errors.js';

export const PROTOCOL_NAME = 'BitTorrent protocol';
/** pstrlen (1) + pstr (19) + reserved (8) + info-hash (20) + peer id (20). */
export const HANDSHAKE_BYTES = 68;
/** Everything up to and including the info-hash: enough to route a connection. */
export const HANDSHAKE_HEAD_BYTES = 48;

const PSTR = new TextEncoder().encode(PROTOCOL_NAME);
const PSTR_OFFSET = 1;
const RESERVED_OFFSET = 20;
const INFO_HASH_OFFSET = 28;
const PEER_ID_OFFSET = 48;

// Reserved bits that matter to us (PROTOCOL.md).
/** BEP 10 extension protocol: reserved[5] & 0x10. */
const EXTENSION_BYTE = 5;
const EXTENSION_BIT = 0x10;
/** BEP 5 DHT (the remote sends `port` messages): reserved[7] & 0x01. */
const DHT_BYTE = 7;
const DHT_BIT = 0x01;
/** BEP 6 fast extension: reserved[7] & 0x04. */
const FAST_BYTE = 7;
const FAST_BIT = 0x04;

export interface HandshakeHead {
  /** The 8 reserved bytes as sent (a copy); unknown bits are kept for logging. */
  reserved: Uint8Array;
  infoHash: Uint8Array;
  /** reserved[5] & 0x10 (BEP 10). */
  extensionProtocol: boolean;
  /** reserved[7] & 0x01 (BEP 5). */
  dht: boolean;
  /** reserved[7] & 0x04 (BEP 6). */
  fast: boolean;
}

export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  reserved: Uint8Array;
  /** reserved[5] & 0x10, BEP 10 */
  extensionProtocol: boolean;
  /** reserved[7] & 0x01, BEP 5 */
  dht: boolean;
  /** reserved[7] & 0x04, BEP 6 */
  fast: boolean;
}

export interface HandshakeInit {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  extensionProtocol?: boolean;
  dht?: boolean;
  fast?: boolean;
}

/** Our 68-byte handshake. */
export function encodeHandshake(h: HandshakeInit): Uint8Array {
  if (h.infoHash.length !== 20) throw new RangeError(`handshake info-hash must be 20 bytes, got ${h.infoHash.length}`);
  if (h.peerId.length !== 20) throw new RangeError(`handshake peer id must be 20 bytes, got ${h.peerId.length}`);
  const out = new Uint8Array(HANDSHAKE_BYTES);
  out[0] = PSTR.length;
  out.set(PSTR, PSTR_OFFSET);
  if (h.extensionProtocol) out[RESERVED_OFFSET + EXTENSION_BYTE]! |= EXTENSION_BIT;
  if (h.dht) out[RESERVED_OFFSET + DHT_BYTE]! |= DHT_BIT;
  if (h.fast) out[RESERVED_OFFSET + FAST_BYTE]! |= FAST_BIT;
  out.set(h.infoHash, INFO_HASH_OFFSET);
  out.set(h.peerId, PEER_ID_OFFSET);
  return out;
}

/**
 * Checks the protocol string on a prefix of the handshake (any length), so a
 * connection that is not BitTorrent is refused at its first bytes.
 */
export function checkHandshakePrefix(bytes: Uint8Array): void {
  if (bytes.length > 0 && bytes[0] !== PSTR.length) {
    throw new ProtocolError(`handshake: protocol name length is ${bytes[0]}, expected ${PSTR.length}`);
  }
  const end = Math.min(bytes.length, PSTR_OFFSET + PSTR.length);
  for (let i = PSTR_OFFSET; i < end; i++) {
    if (bytes[i] !== PSTR[i - PSTR_OFFSET]) throw new ProtocolError(`handshake: protocol name is not "${PROTOCOL_NAME}"`);
  }
}

/** Decodes the first 48 bytes: protocol name, reserved bits and info-hash. */
export function decodeHandshakeHead(bytes: Uint8Array): HandshakeHead {
  if (bytes.length < HANDSHAKE_HEAD_BYTES) {
    throw new ProtocolError(`handshake head needs ${HANDSHAKE_HEAD_BYTES} bytes, got ${bytes.length}`);
  }
  checkHandshakePrefix(bytes.subarray(0, PSTR_OFFSET + PSTR.length));
  const reserved = bytes.slice(RESERVED_OFFSET, RESERVED_OFFSET + 8);
  return {
    reserved,
    infoHash: bytes.slice(INFO_HASH_OFFSET, INFO_HASH_OFFSET + 20),
    extensionProtocol: (reserved[EXTENSION_BYTE]! & EXTENSION_BIT) !== 0,
    dht: (reserved[DHT_BYTE]! & DHT_BIT) !== 0,
    fast: (reserved[FAST_BYTE]! & FAST_BIT) !== 0,
  };
}

/** The peer id: the 20 bytes that follow the head. Returns a copy. */
export function decodePeerId(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 20) throw new ProtocolError(`handshake peer id must be 20 bytes, got ${bytes.length}`);
  return bytes.slice();
}

/** Decodes exactly 68 bytes. */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  if (bytes.length !== HANDSHAKE_BYTES) throw new ProtocolError(`handshake must be ${HANDSHAKE_BYTES} bytes, got ${bytes.length}`);
  const head = decodeHandshakeHead(bytes);
  return { ...head, peerId: decodePeerId(bytes.subarray(PEER_ID_OFFSET)) };
}

/**
 * Reads the handshake off the start of a stream split at any point.
 *
 * ```ts
 * const rest = reader.push(chunk);          // undefined until all 68 bytes are in
 * if (reader.head && !routed) route(reader.head.infoHash);   // after 48 bytes
 * if (rest) { use(reader.handshake!); frames = decoder.push(rest); }
 * ```
 * `rest` holds the bytes after the handshake (often the first messages),
 * to feed to a `FrameDecoder`. The protocol name is checked byte by byte as
 * it arrives. Pushing after completion is a programming error.
 */
export class HandshakeReader {
  readonly #buf = new Uint8Array(HANDSHAKE_BYTES);
  #fill = 0;
  #head: HandshakeHead | undefined;
  #handshake: Handshake | undefined;

  /** Bytes of the handshake received so far (at most 68). */
  get buffered(): number {
    return this.#handshake ? 0 : this.#fill;
  }

  /** The head once 48 bytes are in. */
  get head(): HandshakeHead | undefined {
    return this.#head;
  }

  /** The whole handshake once 68 bytes are in. */
  get handshake(): Handshake | undefined {
    return this.#handshake;
  }

  get done(): boolean {
    return this.#handshake !== undefined;
  }

  push(chunk: Uint8Array): Uint8Array | undefined {
    if (this.#handshake) throw new Error('HandshakeReader.push after the handshake completed; feed the frame decoder instead');
    const take = Math.min(chunk.length, HANDSHAKE_BYTES - this.#fill);
    const before = this.#fill;
    this.#buf.set(chunk.subarray(0, take), this.#fill);
    this.#fill += take;
    if (before < PSTR_OFFSET + PSTR.length) checkHandshakePrefix(this.#buf.subarray(0, Math.min(this.#fill, PSTR_OFFSET + PSTR.length)));
    if (!this.#head && this.#fill >= HANDSHAKE_HEAD_BYTES) this.#head = decodeHandshakeHead(this.#buf);
    if (this.#fill < HANDSHAKE_BYTES) return undefined;
    this.#handshake = { ...this.#head!, peerId: decodePeerId(this.#buf.subarray(PEER_ID_OFFSET)) };
    return chunk.subarray(take);
  }
}
