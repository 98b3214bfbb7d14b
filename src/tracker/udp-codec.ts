/**
 * Pure codec of the UDP tracker protocol (BEP 15). All integers are big
 * endian. Requests and responses are discriminated unions on `action`.
 *
 *   connect request   connection_id=PROTOCOL_ID(8) action=0(4) transaction_id(4)        16 bytes
 *   announce request  connection_id(8) action=1 tid info_hash(20) peer_id(20)
 *                     downloaded(8) left(8) uploaded(8) event(4) ip(4) key(4)
 *                     num_want(4, -1 = default) port(2)                                   98 bytes
 *   scrape request    connection_id(8) action=2 tid info_hash(20) x N                    16 + 20N
 *   connect response  action=0 tid connection_id(8)                                      16 bytes
 *   announce response action=1 tid interval leechers seeders (ip(4) port(2)) x N          20 + 6N
 *   scrape response   action=2 tid (seeders completed leechers) x N                        8 + 12N
 *   error response    action=3 tid message (UTF-8 text, the rest of the packet)
 */
import { TrackerError, assertNever } from '../errors.js';
import type { AnnounceEvent, TrackerPeer } from './http-codec.js';
import { COMPACT_PEER_BYTES, decodeCompactPeers, decodeCompactPeers6, encodeCompactPeers, encodeCompactPeers6 } from '../wire/compact.js';

/** The magic constant a connect request carries in place of a connection id. */
export const PROTOCOL_ID = 0x41727101980n;

export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;

/** BEP 15 event codes. */
const EVENT_CODES: Record<number, AnnounceEvent | undefined> = { 0: undefined, 1: 'completed', 2: 'started', 3: 'stopped' };
const EVENT_TO_CODE: Record<AnnounceEvent, number> = { completed: 1, started: 2, stopped: 3 };

/** A UDP packet holds about this many info-hashes (BEP 15 says 74); more is refused. */
export const MAX_UDP_SCRAPE_HASHES = 74;
/** Largest error message we emit or read, so error packets stay small. */
const MAX_ERROR_BYTES = 512;

export type UdpRequest =
  | { action: 'connect'; transactionId: number }
  | {
      action: 'announce';
      connectionId: bigint;
      transactionId: number;
      infoHash: Uint8Array;
      peerId: Uint8Array;
      downloaded: number;
      left: number;
      uploaded: number;
      event?: AnnounceEvent;
      /** The IP field (0 = the sender's); the server ignores it (see server.ts). */
      ip: number;
      key: number;
      /** -1 = tracker's default. */
      numwant: number;
      port: number;
    }
  | { action: 'scrape'; connectionId: bigint; transactionId: number; infoHashes: Uint8Array[] };

export type UdpResponse =
  | { action: 'connect'; transactionId: number; connectionId: bigint }
  | {
      action: 'announce';
      transactionId: number;
      interval: number;
      leechers: number;
      seeders: number;
      peers: TrackerPeer[];
      /**
       * BEP 15 over IPv6: the request came over IPv6, so the reply lists its
       * IPv6 peers in 18-byte entries (and no IPv4 ones). Encoding only; the
       * decoder is told by its caller (`decodeUdpResponse(buf, { ipv6 })`).
       */
      ipv6?: boolean;
      /** Encoding only: BEP 23 bytes written after `peers` (a tracker that keeps its peers in that form). */
      compactPeers?: Uint8Array;
    }
  | { action: 'scrape'; transactionId: number; files: { seeders: number; completed: number; leechers: number }[] }
  | { action: 'error'; transactionId: number; message: string };

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** A 64-bit counter read as a JS number; absurd values are clamped, not trusted. */
function readU64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Decodes a client's request. Anything malformed throws a TrackerError naming the problem. */
export function decodeUdpRequest(buf: Uint8Array): UdpRequest {
  if (buf.length < 16) throw new TrackerError(`udp request: ${buf.length} bytes is shorter than any request`);
  const dv = view(buf);
  const connectionId = dv.getBigUint64(0);
  const action = dv.getUint32(8);
  const transactionId = dv.getUint32(12);
  switch (action) {
    case ACTION_CONNECT:
      if (connectionId !== PROTOCOL_ID) throw new TrackerError('udp connect: wrong protocol id');
      return { action: 'connect', transactionId };
    case ACTION_ANNOUNCE: {
      // Bytes past 98 are BEP 41 options; we use none of them.
      if (buf.length < 98) throw new TrackerError(`udp announce: ${buf.length} bytes, expected at least 98`);
      const code = dv.getUint32(80);
      if (!(code in EVENT_CODES)) throw new TrackerError(`udp announce: unknown event ${code}`);
      const port = dv.getUint16(96);
      const req: UdpRequest = {
        action: 'announce',
        connectionId,
        transactionId,
        infoHash: buf.slice(16, 36),
        peerId: buf.slice(36, 56),
        downloaded: readU64(dv, 56),
        left: readU64(dv, 64),
        uploaded: readU64(dv, 72),
        ip: dv.getUint32(84),
        key: dv.getUint32(88),
        numwant: dv.getInt32(92),
        port,
      };
      const event = EVENT_CODES[code];
      if (event) req.event = event;
      return req;
    }
    case ACTION_SCRAPE: {
      const body = buf.length - 16;
      if (body === 0 || body % 20 !== 0) throw new TrackerError(`udp scrape: ${body} bytes of info-hashes is not a positive multiple of 20`);
      if (body / 20 > MAX_UDP_SCRAPE_HASHES) throw new TrackerError(`udp scrape: more than ${MAX_UDP_SCRAPE_HASHES} info-hashes`);
      const infoHashes: Uint8Array[] = [];
      for (let i = 16; i < buf.length; i += 20) infoHashes.push(buf.slice(i, i + 20));
      return { action: 'scrape', connectionId, transactionId, infoHashes };
    }
    default:
      throw new TrackerError(`udp request: unknown action ${action}`);
  }
}

export function encodeUdpRequest(req: UdpRequest): Uint8Array {
  switch (req.action) {
    case 'connect': {
      const out = new Uint8Array(16);
      const dv = view(out);
      dv.setBigUint64(0, PROTOCOL_ID);
      dv.setUint32(8, ACTION_CONNECT);
      dv.setUint32(12, req.transactionId >>> 0);
      return out;
    }
    case 'announce': {
      if (req.infoHash.length !== 20 || req.peerId.length !== 20) throw new TrackerError('udp announce: info_hash and peer_id must be 20 bytes');
      const out = new Uint8Array(98);
      const dv = view(out);
      dv.setBigUint64(0, req.connectionId);
      dv.setUint32(8, ACTION_ANNOUNCE);
      dv.setUint32(12, req.transactionId >>> 0);
      out.set(req.infoHash, 16);
      out.set(req.peerId, 36);
      dv.setBigUint64(56, BigInt(req.downloaded));
      dv.setBigUint64(64, BigInt(req.left));
      dv.setBigUint64(72, BigInt(req.uploaded));
      dv.setUint32(80, req.event ? EVENT_TO_CODE[req.event] : 0);
      dv.setUint32(84, req.ip >>> 0);
      dv.setUint32(88, req.key >>> 0);
      dv.setInt32(92, req.numwant | 0);
      dv.setUint16(96, req.port);
      return out;
    }
    case 'scrape': {
      const out = new Uint8Array(16 + 20 * req.infoHashes.length);
      const dv = view(out);
      dv.setBigUint64(0, req.connectionId);
      dv.setUint32(8, ACTION_SCRAPE);
      dv.setUint32(12, req.transactionId >>> 0);
      req.infoHashes.forEach((h, i) => out.set(h, 16 + 20 * i));
      return out;
    }
    default:
      return assertNever(req);
  }
}

/**
 * An announce response in one allocation. A peer's ready `compact` form is
 * copied byte by byte (cheaper than re-parsing its host, or than `set` on
 * 6-byte arrays); without it for every peer, the shared encoder is used.
 */
function encodeAnnounceResponse(res: Extract<UdpResponse, { action: 'announce' }>): Uint8Array {
  if (res.ipv6) {
    const list = encodeCompactPeers6(res.peers);
    const out6 = Buffer.allocUnsafe(20 + list.length);
    out6.writeUInt32BE(ACTION_ANNOUNCE, 0);
    out6.writeUInt32BE(res.transactionId >>> 0, 4);
    out6.writeUInt32BE(res.interval, 8);
    out6.writeUInt32BE(res.leechers, 12);
    out6.writeUInt32BE(res.seeders, 16);
    out6.set(list, 20);
    return out6;
  }
  const peers = res.peers;
  let ready = true;
  for (let i = 0; i < peers.length && ready; i++) ready = peers[i]!.compact?.length === COMPACT_PEER_BYTES;
  const slow = ready ? undefined : encodeCompactPeers(peers);
  const extra = res.compactPeers;
  // From Node's buffer pool: a fresh ArrayBuffer per reply costs more than the rest of the encoding. Every byte is written below.
  const out = Buffer.allocUnsafe(20 + (slow ? slow.length : peers.length * COMPACT_PEER_BYTES) + (extra ? extra.length : 0));
  out.writeUInt32BE(ACTION_ANNOUNCE, 0);
  out.writeUInt32BE(res.transactionId >>> 0, 4);
  out.writeUInt32BE(res.interval, 8);
  out.writeUInt32BE(res.leechers, 12);
  out.writeUInt32BE(res.seeders, 16);
  if (extra) out.set(extra, out.length - extra.length);
  if (slow) {
    out.set(slow, 20);
    return out;
  }
  let off = 20;
  for (let i = 0; i < peers.length; i++) {
    const c = peers[i]!.compact!;
    out[off] = c[0]!;
    out[off + 1] = c[1]!;
    out[off + 2] = c[2]!;
    out[off + 3] = c[3]!;
    out[off + 4] = c[4]!;
    out[off + 5] = c[5]!;
    off += COMPACT_PEER_BYTES;
  }
  return out;
}

export function encodeUdpResponse(res: UdpResponse): Uint8Array {
  switch (res.action) {
    case 'connect': {
      const out = new Uint8Array(16);
      const dv = view(out);
      dv.setUint32(0, ACTION_CONNECT);
      dv.setUint32(4, res.transactionId >>> 0);
      dv.setBigUint64(8, res.connectionId);
      return out;
    }
    case 'announce':
      return encodeAnnounceResponse(res);
    case 'scrape': {
      const out = new Uint8Array(8 + 12 * res.files.length);
      const dv = view(out);
      dv.setUint32(0, ACTION_SCRAPE);
      dv.setUint32(4, res.transactionId >>> 0);
      res.files.forEach((f, i) => {
        dv.setUint32(8 + 12 * i, f.seeders);
        dv.setUint32(12 + 12 * i, f.completed);
        dv.setUint32(16 + 12 * i, f.leechers);
      });
      return out;
    }
    case 'error': {
      const msg = Buffer.from(res.message, 'utf8').subarray(0, MAX_ERROR_BYTES);
      const out = new Uint8Array(8 + msg.length);
      const dv = view(out);
      dv.setUint32(0, ACTION_ERROR);
      dv.setUint32(4, res.transactionId >>> 0);
      out.set(msg, 8);
      return out;
    }
    default:
      return assertNever(res);
  }
}

/** Decodes a tracker's response (client side). */
/** `ipv6`: the request went over IPv6, so announce replies hold 18-byte IPv6 entries (BEP 15); a partial entry is refused. */
export function decodeUdpResponse(buf: Uint8Array, opts: { ipv6?: boolean } = {}): UdpResponse {
  if (buf.length < 8) throw new TrackerError(`udp response: ${buf.length} bytes is shorter than any response`);
  const dv = view(buf);
  const action = dv.getUint32(0);
  const transactionId = dv.getUint32(4);
  switch (action) {
    case ACTION_CONNECT:
      if (buf.length < 16) throw new TrackerError('udp connect response: shorter than 16 bytes');
      return { action: 'connect', transactionId, connectionId: dv.getBigUint64(8) };
    case ACTION_ANNOUNCE: {
      if (buf.length < 20) throw new TrackerError('udp announce response: shorter than 20 bytes');
      // IPv4: a trailing partial entry is ignored rather than failing the whole reply.
      const peers = opts.ipv6
        ? decodeCompactPeers6(buf.subarray(20), { field: 'udp announce IPv6 peers', error: (m) => new TrackerError(m) })
        : decodeCompactPeers(buf.subarray(20, 20 + Math.floor((buf.length - 20) / 6) * 6));
      return { action: 'announce', transactionId, interval: dv.getUint32(8), leechers: dv.getUint32(12), seeders: dv.getUint32(16), peers };
    }
    case ACTION_SCRAPE: {
      const files: { seeders: number; completed: number; leechers: number }[] = [];
      for (let off = 8; off + 12 <= buf.length; off += 12) {
        files.push({ seeders: dv.getUint32(off), completed: dv.getUint32(off + 4), leechers: dv.getUint32(off + 8) });
      }
      return { action: 'scrape', transactionId, files };
    }
    case ACTION_ERROR:
      return { action: 'error', transactionId, message: Buffer.from(buf.subarray(8, 8 + MAX_ERROR_BYTES)).toString('utf8') };
    default:
      throw new TrackerError(`udp response: unknown action ${action}`);
  }
}
