/**
 * Peer wire messages (BEP 3, BEP 6 fast extension, BEP 10 extended) as a
 * discriminated union, and their codec.
 *
 * On the wire a message is `<4-byte big-endian length><1-byte id><payload>`;
 * a length of 0 is a keep-alive. `decodeMessage` takes one frame without its
 * length prefix (what `FrameDecoder` yields) and checks the payload size each
 * id requires; range checks against the torrent live in `validate.ts`.
 *
 * Ids we do not know decode to `{ type: 'unknown', id }` instead of an error:
 * real clients send ids outside BEP 3 (e.g. BEP 6 messages while we did not
 * announce it, or private extensions), and ignoring them is what the BEPs ask.
 *
 * Byte fields of decoded messages (`bitfield.bytes`, `piece.block`,
 * `extended.payload`) are views into the frame, not copies: copy them before
 * the frame's memory is reused.
 */
import { ProtocolError, assertNever } from '../errors.js';

/** Message ids (the byte after the length prefix). */
export const MessageId = {
  /** BEP 3: the sender will not serve our requests. */
  choke: 0,
  /** BEP 3: the sender will serve our requests. */
  unchoke: 1,
  /** BEP 3: the sender wants pieces we have. */
  interested: 2,
  /** BEP 3 */
  notInterested: 3,
  /** BEP 3: `<index>`: the sender now has this piece. */
  have: 4,
  /** BEP 3: the sender's pieces; only as the first message. */
  bitfield: 5,
  /** BEP 3: `<index><begin><length>`. */
  request: 6,
  /** BEP 3: `<index><begin><block>`. */
  piece: 7,
  /** BEP 3: `<index><begin><length>`: withdraws a request. */
  cancel: 8,
  /** BEP 5: `<2-byte port>`: the sender's DHT UDP port. */
  port: 9,
  /** BEP 6: `<index>`: the sender suggests downloading this piece. */
  suggest: 13,
  /** BEP 6: the sender has every piece (instead of a bitfield). */
  haveAll: 14,
  /** BEP 6: the sender has no piece (instead of a bitfield). */
  haveNone: 15,
  /** BEP 6: `<index><begin><length>`: the sender will not serve this request. */
  reject: 16,
  /** BEP 6: `<index>`: may be requested from the sender even while choked. */
  allowedFast: 17,
  /** BEP 10: `<extension id><payload>`; extension id 0 is the extension handshake. */
  extended: 20,
} as const;

/**
 * One block of a piece (BEP 3): what a request, cancel and reject name, and
 * what the picker hands out and the connection tracks.
 */
export interface BlockRequest {
  index: number;
  begin: number;
  length: number;
}

export type PeerMessage =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bytes: Uint8Array }
  | { type: 'request'; index: number; begin: number; length: number }
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  | { type: 'cancel'; index: number; begin: number; length: number }
  | { type: 'port'; port: number }
  // BEP 6 fast extension: ids 13, 14, 15, 16, 17
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | { type: 'reject'; index: number; begin: number; length: number }
  | { type: 'allowed-fast'; index: number }
  // BEP 10: `id` is the extension id (0 = extension handshake), `payload` what follows it.
  | { type: 'extended'; id: number; payload: Uint8Array }
  // An id we do not know: the connection ignores it. `payload` is set by decodeMessage.
  | { type: 'unknown'; id: number; payload?: Uint8Array };

export type PeerMessageType = PeerMessage['type'];

/** Length prefix (4) + id (1) + index (4) + begin (4): the header of a piece message. */
export const PIECE_HEADER_BYTES = 13;

const KNOWN_IDS: ReadonlySet<number> = new Set(Object.values(MessageId));

function checkUint32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${field} must be a 32-bit unsigned integer, got ${value}`);
}

function writeUint32(out: Uint8Array, pos: number, value: number): void {
  out[pos] = value >>> 24;
  out[pos + 1] = (value >>> 16) & 0xff;
  out[pos + 2] = (value >>> 8) & 0xff;
  out[pos + 3] = value & 0xff;
}

function readUint32(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
}

/** A framed message with room for `payloadBytes` after the id. */
function frame(id: number, payloadBytes: number): Uint8Array {
  const out = new Uint8Array(5 + payloadBytes);
  writeUint32(out, 0, 1 + payloadBytes);
  out[4] = id;
  return out;
}

function ints(id: number, values: number[], names: string[]): Uint8Array {
  const out = frame(id, values.length * 4);
  values.forEach((v, i) => {
    checkUint32(v, names[i]!);
    writeUint32(out, 5 + i * 4, v);
  });
  return out;
}

/**
 * The 13-byte header of a piece message carrying `blockLength` bytes, so a
 * sender can write the header and then the block without copying the block.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  const out = new Uint8Array(PIECE_HEADER_BYTES);
  writePieceHeader(out, 0, index, begin, blockLength);
  return out;
}

/**
 * Writes that header into `out` at `at`: for a sender that lays out whole
 * piece messages in its own buffer (the upload cache's piece images).
 */
export function writePieceHeader(out: Uint8Array, at: number, index: number, begin: number, blockLength: number): void {
  checkUint32(index, 'piece index');
  checkUint32(begin, 'piece begin');
  if (!Number.isInteger(blockLength) || blockLength < 0 || blockLength > 0xffffffff - 9) throw new RangeError(`block length out of range: ${blockLength}`);
  if (!Number.isInteger(at) || at < 0 || at + PIECE_HEADER_BYTES > out.length) throw new RangeError(`no room for a piece header at ${at} of ${out.length} bytes`);
  writeUint32(out, at, 9 + blockLength);
  out[at + 4] = MessageId.piece;
  writeUint32(out, at + 5, index);
  writeUint32(out, at + 9, begin);
}

/** Bytes of one framed request message: length prefix 4, id 1, index, begin, length. */
export const REQUEST_MESSAGE_BYTES = 17;

/**
 * Many request messages in one buffer, so a batch of requests is one
 * socket write (the download path sends thousands a second).
 */
export function encodeRequests(reqs: readonly { index: number; begin: number; length: number }[]): Uint8Array {
  const out = new Uint8Array(REQUEST_MESSAGE_BYTES * reqs.length);
  let o = 0;
  for (const r of reqs) {
    checkUint32(r.index, 'request index');
    checkUint32(r.begin, 'request begin');
    checkUint32(r.length, 'request length');
    writeUint32(out, o, 13);
    out[o + 4] = MessageId.request;
    writeUint32(out, o + 5, r.index);
    writeUint32(out, o + 9, r.begin);
    writeUint32(out, o + 13, r.length);
    o += REQUEST_MESSAGE_BYTES;
  }
  return out;
}

/** One message with its 4-byte length prefix. Bad field values are our own bug: RangeError. */
export function encodeMessage(msg: PeerMessage): Uint8Array {
  switch (msg.type) {
    case 'keep-alive':
      return new Uint8Array(4);
    case 'choke':
      return frame(MessageId.choke, 0);
    case 'unchoke':
      return frame(MessageId.unchoke, 0);
    case 'interested':
      return frame(MessageId.interested, 0);
    case 'not-interested':
      return frame(MessageId.notInterested, 0);
    case 'have-all':
      return frame(MessageId.haveAll, 0);
    case 'have-none':
      return frame(MessageId.haveNone, 0);
    case 'have':
      return ints(MessageId.have, [msg.index], ['have index']);
    case 'suggest':
      return ints(MessageId.suggest, [msg.index], ['suggest index']);
    case 'allowed-fast':
      return ints(MessageId.allowedFast, [msg.index], ['allowed-fast index']);
    case 'request':
      return ints(MessageId.request, [msg.index, msg.begin, msg.length], ['request index', 'request begin', 'request length']);
    case 'cancel':
      return ints(MessageId.cancel, [msg.index, msg.begin, msg.length], ['cancel index', 'cancel begin', 'cancel length']);
    case 'reject':
      return ints(MessageId.reject, [msg.index, msg.begin, msg.length], ['reject index', 'reject begin', 'reject length']);
    case 'bitfield': {
      const out = frame(MessageId.bitfield, msg.bytes.length);
      out.set(msg.bytes, 5);
      return out;
    }
    case 'piece': {
      const header = encodePieceHeader(msg.index, msg.begin, msg.block.length);
      const out = new Uint8Array(PIECE_HEADER_BYTES + msg.block.length);
      out.set(header, 0);
      out.set(msg.block, PIECE_HEADER_BYTES);
      return out;
    }
    case 'port': {
      if (!Number.isInteger(msg.port) || msg.port < 0 || msg.port > 0xffff) throw new RangeError(`port must be 0..65535, got ${msg.port}`);
      const out = frame(MessageId.port, 2);
      out[5] = msg.port >>> 8;
      out[6] = msg.port & 0xff;
      return out;
    }
    case 'extended':
      return encodeExtendedFrame(msg.id, msg.payload);
    case 'unknown': {
      if (!Number.isInteger(msg.id) || msg.id < 0 || msg.id > 255) throw new RangeError(`message id must be 0..255, got ${msg.id}`);
      const payload = msg.payload ?? new Uint8Array(0);
      const out = frame(msg.id, payload.length);
      out.set(payload, 5);
      return out;
    }
    default:
      return assertNever(msg);
  }
}

/** A whole framed BEP 10 message: `<len><20><extId><payload>`. */
export function encodeExtendedFrame(extId: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(extId) || extId < 0 || extId > 255) throw new RangeError(`extension id must be 0..255, got ${extId}`);
  const out = frame(MessageId.extended, 1 + payload.length);
  out[5] = extId;
  out.set(payload, 6);
  return out;
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageId).map(([k, v]) => [v, k]));

function expectPayload(id: number, got: number, want: number): void {
  if (got !== want) throw new ProtocolError(`${NAMES[id]} message must carry ${want} payload bytes, got ${got}`);
}

/**
 * Decodes one frame without its length prefix (empty = keep-alive). Refuses
 * a payload of the wrong size for a known id; see the file comment for
 * unknown ids and for the views it returns.
 */
export function decodeMessage(frame: Uint8Array): PeerMessage {
  if (frame.length === 0) return { type: 'keep-alive' };
  const id = frame[0]!;
  const n = frame.length - 1;
  switch (id) {
    case MessageId.choke:
      expectPayload(id, n, 0);
      return { type: 'choke' };
    case MessageId.unchoke:
      expectPayload(id, n, 0);
      return { type: 'unchoke' };
    case MessageId.interested:
      expectPayload(id, n, 0);
      return { type: 'interested' };
    case MessageId.notInterested:
      expectPayload(id, n, 0);
      return { type: 'not-interested' };
    case MessageId.haveAll:
      expectPayload(id, n, 0);
      return { type: 'have-all' };
    case MessageId.haveNone:
      expectPayload(id, n, 0);
      return { type: 'have-none' };
    case MessageId.have:
      expectPayload(id, n, 4);
      return { type: 'have', index: readUint32(frame, 1) };
    case MessageId.suggest:
      expectPayload(id, n, 4);
      return { type: 'suggest', index: readUint32(frame, 1) };
    case MessageId.allowedFast:
      expectPayload(id, n, 4);
      return { type: 'allowed-fast', index: readUint32(frame, 1) };
    case MessageId.request:
    case MessageId.cancel:
    case MessageId.reject: {
      expectPayload(id, n, 12);
      const type = id === MessageId.request ? 'request' : id === MessageId.cancel ? 'cancel' : 'reject';
      return { type, index: readUint32(frame, 1), begin: readUint32(frame, 5), length: readUint32(frame, 9) };
    }
    case MessageId.bitfield:
      return { type: 'bitfield', bytes: frame.subarray(1) };
    case MessageId.piece:
      if (n < 8) throw new ProtocolError(`piece message must carry at least 8 payload bytes, got ${n}`);
      return { type: 'piece', index: readUint32(frame, 1), begin: readUint32(frame, 5), block: frame.subarray(9) };
    case MessageId.port:
      expectPayload(id, n, 2);
      return { type: 'port', port: (frame[1]! << 8) | frame[2]! };
    case MessageId.extended:
      if (n < 1) throw new ProtocolError('extended message has no extension id');
      return { type: 'extended', id: frame[1]!, payload: frame.subarray(2) };
    default:
      if (KNOWN_IDS.has(id)) throw new Error(`message id ${id} is known but not decoded`);
      return { type: 'unknown', id, payload: frame.subarray(1) };
  }
}
