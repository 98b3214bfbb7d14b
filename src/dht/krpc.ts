/**
 * KRPC (BEP 5) codec, with the BEP 44 `get`/`put` messages: bytes in,
 * typed messages out, and back. Pure: no sockets, no timers.
 *
 * Every datagram from the network goes through `decodeKrpc`, which refuses
 * anything malformed with a `KrpcDecodeError` carrying the BEP error code
 * to answer with (203 protocol error, 204 method unknown) and, when it could
 * be read, the transaction id and whether the datagram was a query (only
 * queries get an error reply; a bad response or error is dropped).
 *
 * BEP 44 values (`v`) are kept as the verbatim bencoded bytes they arrived
 * as: signatures and immutable targets are computed over those bytes, and
 * decoding then re-encoding is not an identity for hostile or non-canonical
 * input.
 */
import { BencodeError, DhtError, assertNever } from '../errors.js';
import { decode, dictEntries, isBytes, isDict, isInt, isList, type BDict, type BValue, type Span } from '../bencode/index.js';
import type { PeerAddress } from '../util/peer-address.js';
import {
  COMPACT_PEER6_BYTES,
  COMPACT_PEER_BYTES,
  decodeCompactPeers,
  decodeCompactPeers6,
  encodeCompactPeers,
  encodeCompactPeers6,
  isIPv4,
  isIPv6,
  readCompactPeer,
  readCompactPeer6,
  writeCompactPeer,
  writeCompactPeer6,
} from '../wire/compact.js';

/** BEP 5 error codes. BEP 44's own codes live in bep44.ts. */
export const KRPC_GENERIC_ERROR = 201;
export const KRPC_SERVER_ERROR = 202;
export const KRPC_PROTOCOL_ERROR = 203;
export const KRPC_METHOD_UNKNOWN = 204;

/** Node ids, info-hashes and targets are 160-bit (BEP 5). */
export const ID_BYTES = 20;
/** Compact node info: 20-byte id + 4-byte IPv4 + 2-byte port (BEP 5). */
export const COMPACT_NODE_BYTES = 26;
/** Compact IPv6 node info (`nodes6`, BEP 32): 20-byte id + 16-byte IPv6 + 2-byte port. */
export const COMPACT_NODE6_BYTES = 38;
/**
 * Largest datagram we parse. A real KRPC message is well under 1,500 bytes
 * (a BEP 44 response: 1,000-byte value + signature + 8 nodes); 8 KiB leaves
 * room for clients that send long `values` lists and refuses amplification
 * garbage before the parser sees it.
 */
export const MAX_DATAGRAM_BYTES = 8192;
/** Nesting limit for a KRPC message; BEP 44 values may nest a little. */
const MAX_DEPTH = 24;
/** Transaction ids are short opaque strings; refuse absurd ones. */
const MAX_TRANSACTION_ID_BYTES = 32;

/** Refuses (RangeError: misuse of our API) an id, info-hash or target that is not 20 bytes. */
export function checkId(id: Uint8Array, what: string): void {
  if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) throw new RangeError(`${what} must be 20 bytes`);
}

export interface NodeInfo {
  id: Uint8Array;
  host: string;
  port: number;
}

/** BEP 32 `want`: the node families a requester asks to hear of (`n4`: `nodes`, `n6`: `nodes6`). */
export type Want = 'n4' | 'n6';

export type KrpcQuery =
  | { q: 'ping'; id: Uint8Array }
  | { q: 'find_node'; id: Uint8Array; target: Uint8Array; want?: Want[] }
  | { q: 'get_peers'; id: Uint8Array; infoHash: Uint8Array; want?: Want[] }
  | { q: 'announce_peer'; id: Uint8Array; infoHash: Uint8Array; port: number; token: Uint8Array; impliedPort: boolean }
  /** BEP 44 get; `seq`: only send the value if newer than this. */
  | { q: 'get'; id: Uint8Array; target: Uint8Array; seq?: number; want?: Want[] }
  /** BEP 44 put; `v` is the raw bencoded value; k/sig/seq present together for mutable items. */
  | { q: 'put'; id: Uint8Array; token: Uint8Array; v: Uint8Array; mutable?: MutableFields };

export type KrpcMethod = KrpcQuery['q'];
export const KRPC_METHODS: readonly KrpcMethod[] = ['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put'];

/** The fields a mutable BEP 44 item carries besides `v`. */
export interface MutableFields {
  k: Uint8Array;
  sig: Uint8Array;
  seq: number;
  /** Absent and empty are the same (BEP 44). */
  salt?: Uint8Array;
  cas?: number;
}

/**
 * A response body. Responses do not name the method they answer, so this is
 * the union of the fields any of them may carry; the caller knows what it
 * asked and checks for what it needs.
 */
export interface KrpcResponse {
  id: Uint8Array;
  /** Both families: `nodes` (IPv4) and `nodes6` (IPv6, BEP 32) decode into this one list and encode from it. */
  nodes?: NodeInfo[];
  /** get_peers: compact peers, 6-byte IPv4 and 18-byte IPv6 entries (BEP 32; other sizes are skipped). */
  values?: PeerAddress[];
  token?: Uint8Array;
  /** BEP 44 get: the raw bencoded value. */
  v?: Uint8Array;
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: number;
}

export type KrpcMessage =
  | { y: 'q'; t: Uint8Array; query: KrpcQuery; /** BEP 43 read-only node: not added to routing tables. */ readOnly?: boolean }
  | { y: 'r'; t: Uint8Array; response: KrpcResponse }
  | { y: 'e'; t: Uint8Array; code: number; message: string };

/** A refused datagram; `t` and `query` say whether and how to answer it. */
export class KrpcDecodeError extends DhtError {
  readonly t: Uint8Array | undefined;
  readonly query: boolean;
  constructor(message: string, krpcCode: number, t?: Uint8Array, query = false) {
    super(message, krpcCode);
    this.t = t;
    this.query = query;
  }
}

const te = new TextEncoder();
const td = new TextDecoder();

function str(v: BValue | undefined): string | undefined {
  return isBytes(v) ? td.decode(v) : undefined;
}

// --- decoding ---------------------------------------------------------------

export function decodeKrpc(input: Uint8Array): KrpcMessage {
  // Plain Uint8Array views, so raw spans compare equal to decoded fields whatever the caller passed.
  const buf = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length > MAX_DATAGRAM_BYTES) throw new KrpcDecodeError(`datagram of ${buf.length} bytes exceeds ${MAX_DATAGRAM_BYTES}`, KRPC_PROTOCOL_ERROR);
  let root: BValue;
  try {
    root = decode(buf, { maxDepth: MAX_DEPTH });
  } catch (err) {
    if (err instanceof BencodeError) throw new KrpcDecodeError(`not bencoded: ${err.message}`, KRPC_PROTOCOL_ERROR);
    throw err;
  }
  if (!isDict(root)) throw new KrpcDecodeError('message is not a dictionary', KRPC_PROTOCOL_ERROR);
  const t = root.t;
  if (!isBytes(t) || t.length === 0 || t.length > MAX_TRANSACTION_ID_BYTES) throw new KrpcDecodeError('t: missing or not a short byte string', KRPC_PROTOCOL_ERROR);
  const y = str(root.y);
  const fail = (msg: string, code = KRPC_PROTOCOL_ERROR): never => {
    throw new KrpcDecodeError(msg, code, t, y === 'q');
  };
  switch (y) {
    case 'q':
      // BEP 43 puts `ro` in the top-level dictionary (as libtorrent does); our nodes up to 0.1 put it in `a`.
      return { y: 'q', t, query: decodeQuery(buf, root, fail), ...(root.ro === 1 || (isDict(root.a) && root.a.ro === 1) ? { readOnly: true } : {}) };
    case 'r':
      return { y: 'r', t, response: decodeResponse(buf, root, fail) };
    case 'e': {
      const e = root.e;
      if (!isList(e) || !isInt(e[0])) return fail('e: expected [code, message]');
      return { y: 'e', t, code: e[0], message: str(e[1]) ?? '' };
    }
    default:
      return fail('y: expected "q", "r" or "e"');
  }
}

type Fail = (msg: string, code?: number) => never;

function id20(d: BDict, key: string, fail: Fail, where: string): Uint8Array {
  const v = d[key];
  if (!isBytes(v) || v.length !== ID_BYTES) return fail(`${where}.${key}: expected ${ID_BYTES} bytes`);
  return v;
}

/** The span of `v` inside the top-level dict's `outer` dict, from the raw bytes. */
function rawValueSpan(buf: Uint8Array, outer: string): Span | undefined {
  const outerKey = te.encode(outer);
  const top = dictEntries(buf, 0).find((e) => Buffer.compare(e.key, outerKey) === 0);
  if (!top || buf[top.value.start] !== 0x64) return undefined;
  const inner = dictEntries(buf, top.value.start).find((e) => e.key.length === 1 && e.key[0] === 0x76 /* v */);
  return inner?.value;
}

function decodeQuery(buf: Uint8Array, root: BDict, fail: Fail): KrpcQuery {
  const q = str(root.q);
  if (q === undefined) return fail('q: missing method name');
  const a = root.a;
  if (!isDict(a)) return fail('a: missing arguments dictionary');
  const id = id20(a, 'id', fail, 'a');
  switch (q) {
    case 'ping':
      return { q, id };
    case 'find_node':
      return { q, id, target: id20(a, 'target', fail, 'a'), ...wantOf(a) };
    case 'get_peers':
      return { q, id, infoHash: id20(a, 'info_hash', fail, 'a'), ...wantOf(a) };
    case 'announce_peer': {
      const infoHash = id20(a, 'info_hash', fail, 'a');
      const token = a.token;
      if (!isBytes(token)) return fail('a.token: missing');
      const impliedPort = a.implied_port !== undefined && a.implied_port !== 0;
      const port = a.port;
      if (!impliedPort && (!isInt(port) || port < 1 || port > 65535)) return fail('a.port: expected 1-65535');
      return { q, id, infoHash, token, impliedPort, port: isInt(port) ? port : 0 };
    }
    case 'get': {
      const target = id20(a, 'target', fail, 'a');
      if (a.seq !== undefined && (!isInt(a.seq) || a.seq < 0)) return fail('a.seq: expected a non-negative integer');
      return a.seq === undefined ? { q, id, target, ...wantOf(a) } : { q, id, target, seq: a.seq as number, ...wantOf(a) };
    }
    case 'put': {
      const token = a.token;
      if (!isBytes(token)) return fail('a.token: missing');
      if (a.v === undefined) return fail('a.v: missing');
      const span = rawValueSpan(buf, 'a');
      if (!span) return fail('a.v: missing');
      const v = buf.subarray(span.start, span.end);
      const mutable = decodeMutableFields(a, fail, 'a');
      return mutable ? { q, id, token, v, mutable } : { q, id, token, v };
    }
    default:
      return fail(`method unknown: ${q.slice(0, 40)}`, KRPC_METHOD_UNKNOWN);
  }
}

/**
 * BEP 32 `want`, leniently: a list whose `n4`/`n6` entries are kept (among
 * its first 8; anything else in it is ignored, as is a `want` that is not a
 * list). Absent: the requester wants its own family, which the responder knows.
 */
function wantOf(a: BDict): { want?: Want[] } {
  if (!isList(a.want)) return {};
  const want = new Set<Want>();
  for (const w of a.want.slice(0, 8)) {
    const s = str(w);
    if (s === 'n4' || s === 'n6') want.add(s);
  }
  return want.size ? { want: [...want] } : {};
}

function decodeMutableFields(d: BDict, fail: Fail, where: string): MutableFields | undefined {
  if (d.k === undefined && d.sig === undefined && d.seq === undefined) {
    if (d.salt !== undefined || d.cas !== undefined) return fail(`${where}: salt or cas without k, sig and seq`);
    return undefined;
  }
  const { k, sig, seq, salt, cas } = d;
  if (!isBytes(k) || k.length !== 32) return fail(`${where}.k: expected a 32-byte ed25519 public key`);
  if (!isBytes(sig) || sig.length !== 64) return fail(`${where}.sig: expected a 64-byte ed25519 signature`);
  if (!isInt(seq) || seq < 0) return fail(`${where}.seq: expected a non-negative integer`);
  if (salt !== undefined && !isBytes(salt)) return fail(`${where}.salt: expected a byte string`);
  if (cas !== undefined && (!isInt(cas) || cas < 0)) return fail(`${where}.cas: expected a non-negative integer`);
  const out: MutableFields = { k, sig, seq };
  if (isBytes(salt) && salt.length > 0) out.salt = salt;
  if (isInt(cas)) out.cas = cas;
  return out;
}

function decodeResponse(buf: Uint8Array, root: BDict, fail: Fail): KrpcResponse {
  const r = root.r;
  if (!isDict(r)) return fail('r: missing response dictionary');
  const out: KrpcResponse = { id: id20(r, 'id', fail, 'r') };
  if (r.nodes !== undefined) {
    if (!isBytes(r.nodes) || r.nodes.length % COMPACT_NODE_BYTES !== 0) return fail('r.nodes: expected a multiple of 26 bytes');
    out.nodes = decodeCompactNodes(r.nodes);
  }
  if (r.nodes6 !== undefined) {
    if (!isBytes(r.nodes6) || r.nodes6.length % COMPACT_NODE6_BYTES !== 0) return fail('r.nodes6: expected a multiple of 38 bytes');
    out.nodes = [...(out.nodes ?? []), ...decodeCompactNodes6(r.nodes6)];
  }
  if (r.values !== undefined) {
    if (!isList(r.values)) return fail('r.values: expected a list');
    out.values = [];
    for (const p of r.values) {
      if (isBytes(p) && p.length === COMPACT_PEER_BYTES) out.values.push(...decodeCompactPeers(p));
      else if (isBytes(p) && p.length === COMPACT_PEER6_BYTES) out.values.push(...decodeCompactPeers6(p));
    }
  }
  if (r.token !== undefined) {
    if (!isBytes(r.token)) return fail('r.token: expected a byte string');
    out.token = r.token;
  }
  if (r.v !== undefined) {
    const span = rawValueSpan(buf, 'r');
    if (!span) return fail('r.v: unreadable');
    out.v = buf.subarray(span.start, span.end);
  }
  if (r.k !== undefined || r.sig !== undefined) {
    if (!isBytes(r.k) || r.k.length !== 32) return fail('r.k: expected a 32-byte ed25519 public key');
    if (!isBytes(r.sig) || r.sig.length !== 64) return fail('r.sig: expected a 64-byte ed25519 signature');
    out.k = r.k;
    out.sig = r.sig;
  }
  if (r.seq !== undefined) {
    if (!isInt(r.seq) || r.seq < 0) return fail('r.seq: expected a non-negative integer');
    out.seq = r.seq;
  }
  return out;
}

/** Compact node list; entries with port 0 are dropped (nobody listens there). */
export function decodeCompactNodes(b: Uint8Array): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (let i = 0; i + COMPACT_NODE_BYTES <= b.length; i += COMPACT_NODE_BYTES) {
    const peer = readCompactPeer(b, i + ID_BYTES);
    if (peer.port === 0) continue;
    out.push({ id: b.slice(i, i + ID_BYTES), ...peer });
  }
  return out;
}

/** Compact IPv6 node list (`nodes6`); entries with port 0 are dropped. */
export function decodeCompactNodes6(b: Uint8Array): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (let i = 0; i + COMPACT_NODE6_BYTES <= b.length; i += COMPACT_NODE6_BYTES) {
    const peer = readCompactPeer6(b, i + ID_BYTES);
    // An IPv4-mapped address in nodes6 is no IPv6 node.
    if (peer.port === 0 || !peer.host.includes(':')) continue;
    out.push({ id: b.slice(i, i + ID_BYTES), ...peer });
  }
  return out;
}

/** Compact IPv6 node list (`nodes6`); nodes without an IPv6 address are skipped. */
export function encodeCompactNodes6(nodes: NodeInfo[]): Uint8Array {
  const usable = nodes.filter((node) => isIPv6(node.host) && node.id.length === ID_BYTES);
  const out = new Uint8Array(usable.length * COMPACT_NODE6_BYTES);
  usable.forEach((node, i) => {
    out.set(node.id, i * COMPACT_NODE6_BYTES);
    writeCompactPeer6(out, i * COMPACT_NODE6_BYTES + ID_BYTES, node);
  });
  return out;
}

/** Compact node list; nodes without an IPv4 address are skipped. */
export function encodeCompactNodes(nodes: NodeInfo[]): Uint8Array {
  const usable = nodes.filter((node) => isIPv4(node.host) && node.id.length === ID_BYTES);
  const out = new Uint8Array(usable.length * COMPACT_NODE_BYTES);
  usable.forEach((node, i) => {
    out.set(node.id, i * COMPACT_NODE_BYTES);
    writeCompactPeer(out, i * COMPACT_NODE_BYTES + ID_BYTES, node);
  });
  return out;
}

// --- encoding ---------------------------------------------------------------

/** Already-bencoded bytes spliced verbatim into a message (BEP 44 values). */
export class RawBencode {
  constructor(readonly bytes: Uint8Array) {}
}

type Encodable = number | string | Uint8Array | RawBencode | Encodable[] | { [key: string]: Encodable | undefined };

/** Minimal bencode writer that can splice raw values; dict keys sorted as bytes. */
export function bencodeWithRaw(value: Encodable): Uint8Array {
  const parts: Uint8Array[] = [];
  const write = (v: Encodable): void => {
    if (v instanceof RawBencode) parts.push(v.bytes);
    else if (v instanceof Uint8Array) {
      parts.push(te.encode(`${v.length}:`), v);
    } else if (typeof v === 'string') write(te.encode(v));
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: not an integer: ${v}`);
      parts.push(te.encode(`i${v}e`));
    } else if (Array.isArray(v)) {
      parts.push(te.encode('l'));
      for (const item of v) write(item);
      parts.push(te.encode('e'));
    } else {
      parts.push(te.encode('d'));
      const keys = Object.keys(v)
        .filter((k) => v[k] !== undefined)
        .map((k) => ({ k, b: te.encode(k) }))
        .sort((x, y) => Buffer.compare(x.b, y.b));
      for (const { k, b } of keys) {
        write(b);
        write(v[k]!);
      }
      parts.push(te.encode('e'));
    }
  };
  write(value);
  return Buffer.concat(parts);
}

function encodeQueryArgs(query: KrpcQuery): Record<string, Encodable | undefined> {
  switch (query.q) {
    case 'ping':
      return { id: query.id };
    case 'find_node':
      return { id: query.id, target: query.target, want: query.want };
    case 'get_peers':
      return { id: query.id, info_hash: query.infoHash, want: query.want };
    case 'announce_peer':
      return { id: query.id, info_hash: query.infoHash, port: query.port, token: query.token, implied_port: query.impliedPort ? 1 : undefined };
    case 'get':
      return { id: query.id, target: query.target, seq: query.seq, want: query.want };
    case 'put': {
      const m = query.mutable;
      return {
        id: query.id,
        token: query.token,
        v: new RawBencode(query.v),
        k: m?.k,
        sig: m?.sig,
        seq: m?.seq,
        salt: m?.salt && m.salt.length > 0 ? m.salt : undefined,
        cas: m?.cas,
      };
    }
    default:
      return assertNever(query);
  }
}

/** Our client version tag (BEP 20 style: two letters, two version bytes). */
const VERSION = Uint8Array.of(0x53, 0x50, 0x00, 0x01); // "SP" 0.1

export function encodeKrpc(msg: KrpcMessage): Uint8Array {
  switch (msg.y) {
    case 'q':
      // BEP 43: `ro` is a key of the message itself, not of its arguments (libtorrent reads it there only).
      return bencodeWithRaw({ t: msg.t, y: 'q', q: msg.query.q, a: encodeQueryArgs(msg.query), ro: msg.readOnly ? 1 : undefined, v: VERSION });
    case 'r': {
      const r = msg.response;
      // One 6-byte (IPv4) or 18-byte (IPv6, BEP 32) string per peer (BEP 5), not one compact list.
      const values = r.values?.flatMap((p) => (isIPv4(p.host) ? [encodeCompactPeers([p])] : isIPv6(p.host) ? [encodeCompactPeers6([p])] : []));
      const v4 = r.nodes?.filter((n) => isIPv4(n.host));
      const v6 = r.nodes?.filter((n) => !isIPv4(n.host) && isIPv6(n.host));
      return bencodeWithRaw({
        t: msg.t,
        y: 'r',
        v: VERSION,
        r: {
          id: r.id,
          // Our own family's key is always there when nodes were asked for (an empty list says "none").
          nodes: v4 && (v4.length > 0 || v6!.length === 0) ? encodeCompactNodes(v4) : undefined,
          nodes6: v6 && v6.length > 0 ? encodeCompactNodes6(v6) : undefined,
          values,
          token: r.token,
          v: r.v ? new RawBencode(r.v) : undefined,
          k: r.k,
          sig: r.sig,
          seq: r.seq,
        },
      });
    }
    case 'e':
      return bencodeWithRaw({ t: msg.t, y: 'e', e: [msg.code, msg.message], v: VERSION });
    default:
      return assertNever(msg);
  }
}
