/**
 * Checks of decoded messages against the torrent's shape, and small pure
 * helpers for the checks that need connection state (which `src/peer/`
 * owns): whether a piece set is the initial one, a piece only when requested.
 *
 * Every refusal is a `ProtocolError` naming the field; the connection that
 * received the message logs it at warn and closes (that connection only).
 */
import { ProtocolError } from '../errors.js';
import { Bitfield } from '../util/bitfield.js';
import type { PeerMessage } from './messages.js';

export interface TorrentShape {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
}

/** Bytes in piece `index`: `pieceLength`, except a possibly short last piece. */
export function pieceSize(shape: TorrentShape, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= shape.pieceCount) throw new RangeError(`piece ${index} out of range 0..${shape.pieceCount - 1}`);
  if (index < shape.pieceCount - 1) return shape.pieceLength;
  return shape.totalLength - shape.pieceLength * (shape.pieceCount - 1);
}

/** The shape of a torrent of `totalLength` bytes cut in pieces of `pieceLength`. */
export function torrentShape(pieceLength: number, totalLength: number): TorrentShape {
  return { pieceLength, totalLength, pieceCount: Math.ceil(totalLength / pieceLength) };
}

function checkIndex(what: string, index: number, shape: TorrentShape): void {
  if (index >= shape.pieceCount) throw new ProtocolError(`${what} index ${index} out of range (torrent has ${shape.pieceCount} pieces)`);
}

function checkRange(what: string, index: number, begin: number, length: number, shape: TorrentShape, maxBytes: number): void {
  checkIndex(what, index, shape);
  if (length === 0) throw new ProtocolError(`${what} of piece ${index} has length 0`);
  if (length > maxBytes) throw new ProtocolError(`${what} length ${length} exceeds the limit of ${maxBytes} bytes`);
  const size = pieceSize(shape, index);
  if (begin + length > size) throw new ProtocolError(`${what} range ${begin}+${length} reaches past the end of piece ${index} (${size} bytes)`);
}

/**
 * Refuses a message that cannot be right for this torrent: an index out of
 * range (have, suggest, allowed-fast, request, cancel, reject, piece), a
 * bitfield of the wrong byte length or with spare bits set, a request,
 * cancel or reject of length 0, over `maxRequestBytes`, or past the piece's
 * end, and a piece block that is empty, over `maxRequestBytes` (we never ask
 * for more) or past the piece's end. Other messages pass.
 */
export function checkMessage(msg: PeerMessage, shape: TorrentShape, maxRequestBytes: number): void {
  switch (msg.type) {
    case 'have':
    case 'suggest':
    case 'allowed-fast':
      checkIndex(msg.type, msg.index, shape);
      return;
    case 'bitfield': {
      const want = Bitfield.byteLength(shape.pieceCount);
      if (msg.bytes.length !== want) throw new ProtocolError(`bitfield has ${msg.bytes.length} bytes, expected ${want} for ${shape.pieceCount} pieces`);
      if (!Bitfield.spareBitsClear(msg.bytes, shape.pieceCount)) throw new ProtocolError('bitfield has spare bits set past the last piece');
      return;
    }
    case 'request':
    case 'cancel':
    case 'reject':
      checkRange(msg.type, msg.index, msg.begin, msg.length, shape, maxRequestBytes);
      return;
    case 'piece':
      checkRange('piece', msg.index, msg.begin, msg.block.length, shape, maxRequestBytes);
      return;
    default:
      // keep-alive, choke, unchoke, interested, not-interested, have-all,
      // have-none, port, extended and unknown carry nothing to check here.
      return;
  }
}

/** The messages that announce a peer's whole set of pieces (BEP 3 bitfield, BEP 6 have-all/have-none). */
export function isPieceSetMessage(msg: PeerMessage): boolean {
  return msg.type === 'bitfield' || msg.type === 'have-all' || msg.type === 'have-none';
}

/**
 * Where a piece set (BEP 3 bitfield, BEP 6 have_all / have_none) comes.
 * BEP 3 wants it first; real clients differ: keep-alives, BEP 10 extended
 * messages, `port`, choke and interest messages and the other BEP 6
 * messages may precede it, and aria2 1.36 sends `have_none`, then `have`s,
 * then its whole bitfield again. libtorrent accepts a later bitfield, and so
 * do we: it is then news about pieces (like `have`s), never a loss of
 * pieces already announced. Call `observe` with every decoded message of
 * one connection, in order: it answers whether a piece-set message is the
 * peer's initial set (nothing about its pieces was known before: no have,
 * piece or piece set), or a late one to merge.
 */
export class PieceSetOrder {
  #initial = true;

  /** For a piece-set message: true when it is the initial set. For others: false. */
  observe(msg: PeerMessage): boolean {
    if (isPieceSetMessage(msg)) {
      const initial = this.#initial;
      this.#initial = false;
      return initial;
    }
    if (msg.type === 'have' || msg.type === 'piece') this.#initial = false;
    return false;
  }
}

/** A key naming one block request, for sets and maps of outstanding requests. */
export function blockKey(index: number, begin: number, length: number): string {
  return `${index}:${begin}:${length}`;
}

/**
 * Refuses a piece message whose block we did not request. `wasRequested`
 * answers from the connection's state; it should also say yes for requests
 * we cancelled recently, because a piece may cross our cancel on the wire
 * (BEP 3) and that is not the remote's fault.
 */
export function checkPieceRequested(
  msg: { index: number; begin: number; block: Uint8Array },
  wasRequested: (index: number, begin: number, length: number) => boolean,
): void {
  if (!wasRequested(msg.index, msg.begin, msg.block.length)) {
    throw new ProtocolError(`piece ${msg.index} block ${msg.begin}+${msg.block.length} was not requested`);
  }
}
