/**
 * BEP 9 ut_metadata: fetching the info dict from peers (magnet links).
 *
 * Each message is a bencoded dict `{msg_type, piece[, total_size]}`; a data
 * message carries the raw bytes of that metadata piece right after the dict.
 * Metadata moves in 16 KiB pieces, the last one shorter.
 *
 * Refused (ProtocolError): a payload that does not start with a dict, a
 * msg_type other than 0/1/2, a piece index that is negative or beyond the
 * largest metadata we accept, a data message without a sane total_size or
 * whose data is not exactly that piece's size (never more than 16 KiB), and
 * bytes after the dict of a request or reject. BEP 9 says unknown msg_types
 * should be ignored; none exist in practice, so they are refused here and the
 * caller may choose to drop such a message instead of the connection.
 */
import { encode, isDict, isInt } from '../bencode/index.js';
import { decodePayloadPrefix } from './bencoded-payload.js';
import { ProtocolError, assertNever } from '../errors.js';

/** BEP 9: metadata pieces are 16 KiB. */
export const METADATA_PIECE_BYTES = 16384;

/**
 * Largest info dict we fetch. Piece hashes take 20 bytes per piece and file
 * lists grow with the file count; 16 MiB covers torrents of 800k pieces or
 * very long file lists, while bounding what one magnet fetch may hold.
 */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

const MAX_METADATA_PIECES = MAX_METADATA_BYTES / METADATA_PIECE_BYTES;

export type MetadataMessage =
  | { msgType: 'request'; piece: number }
  | { msgType: 'data'; piece: number; totalSize: number; data: Uint8Array }
  | { msgType: 'reject'; piece: number };

const MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

/** Number of 16 KiB pieces of metadata of `totalSize` bytes. */
export function metadataPieceCount(totalSize: number): number {
  return Math.ceil(totalSize / METADATA_PIECE_BYTES);
}

/** Size of metadata piece `piece` (16 KiB except the last). */
export function metadataPieceSize(totalSize: number, piece: number): number {
  return Math.min(METADATA_PIECE_BYTES, totalSize - piece * METADATA_PIECE_BYTES);
}

/** The payload of a ut_metadata extended message (after the extension id byte). */
export function encodeMetadataMessage(msg: MetadataMessage): Uint8Array {
  switch (msg.msgType) {
    case 'request':
    case 'reject':
      return encode({ msg_type: MSG_TYPE[msg.msgType], piece: msg.piece });
    case 'data': {
      const dict = encode({ msg_type: MSG_TYPE.data, piece: msg.piece, total_size: msg.totalSize });
      const out = new Uint8Array(dict.length + msg.data.length);
      out.set(dict, 0);
      out.set(msg.data, dict.length);
      return out;
    }
    default:
      return assertNever(msg);
  }
}

/** Decodes a ut_metadata payload; `data` is a view into `payload`. */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  const { value, end } = decodePayloadPrefix(payload, 'ut_metadata message', { maxDepth: 2 });
  if (!isDict(value)) throw new ProtocolError('ut_metadata message is not a dictionary');
  const piece = value.piece;
  if (!isInt(piece) || piece < 0 || piece >= MAX_METADATA_PIECES) throw new ProtocolError(`ut_metadata piece must be 0..${MAX_METADATA_PIECES - 1}, got ${String(piece)}`);
  const msgType = value.msg_type;
  const rest = payload.length - end;
  switch (msgType) {
    case MSG_TYPE.request:
    case MSG_TYPE.reject:
      if (rest !== 0) throw new ProtocolError(`ut_metadata ${msgType === 0 ? 'request' : 'reject'} has ${rest} bytes after its dictionary`);
      return { msgType: msgType === 0 ? 'request' : 'reject', piece };
    case MSG_TYPE.data: {
      const totalSize = value.total_size;
      if (!isInt(totalSize) || totalSize <= 0 || totalSize > MAX_METADATA_BYTES) {
        throw new ProtocolError(`ut_metadata total_size must be 1..${MAX_METADATA_BYTES}, got ${String(totalSize)}`);
      }
      if (piece >= metadataPieceCount(totalSize)) throw new ProtocolError(`ut_metadata piece ${piece} is past the end of ${totalSize} bytes of metadata`);
      const want = metadataPieceSize(totalSize, piece);
      if (rest !== want) throw new ProtocolError(`ut_metadata piece ${piece} carries ${rest} bytes, expected ${want}`);
      return { msgType: 'data', piece, totalSize, data: payload.subarray(end) };
    }
    default:
      throw new ProtocolError(`ut_metadata msg_type must be 0, 1 or 2, got ${String(msgType)}`);
  }
}
