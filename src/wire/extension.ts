/**
 * BEP 10 extension protocol: the extension handshake (extended message id 0)
 * and framing of extended messages (id 20).
 *
 * The handshake is a bencoded dict; `m` maps extension names (`ut_metadata`,
 * `ut_pex`) to the id the *sender* wants to receive them under. We send with
 * the ids the remote announced (`extensionId`). An id of 0 means the sender
 * disabled that extension.
 *
 * Decoding is tolerant of what BEP 10 leaves open: unknown keys are kept in
 * `raw` only, and a known optional key with a wrong type or an absurd value
 * (say `p` = 0, a `yourip` of 7 bytes) is ignored as if absent, since the
 * rest of the connection is still fine. It refuses what cannot be used: a
 * payload that is not a bencoded dict, an `m` that is not a dict of ids
 * 0..255, and nesting deeper than a handshake ever needs. Every refusal,
 * bencode errors included, is a ProtocolError.
 */
import { encode, isBytes, isDict, isInt, type BDict, type BValue } from '../bencode/index.js';
import { decodePayload } from './bencoded-payload.js';
import { ProtocolError } from '../errors.js';
import { utf8OrUndefined } from '../util/bytes.js';
import { encodeExtendedFrame } from './messages.js';
import { MAX_METADATA_BYTES } from './ut-metadata.js';

/** Extended message id of the extension handshake. */
export const EXTENDED_HANDSHAKE_ID = 0;

/** Names of the extensions we speak, as they appear in `m`. */
export const UT_METADATA = 'ut_metadata';
export const UT_PEX = 'ut_pex';

/** `m` and its values sit at depth 2; leave a little room for unknown keys. */
const MAX_HANDSHAKE_DEPTH = 4;

export interface ExtendedHandshake {
  /** Extension name -> the id the sender receives it under (0 = disabled). */
  m: Record<string, number>;
  /** The sender's listening TCP port. */
  p?: number;
  /** Client name and version. */
  v?: string;
  /** How many outstanding requests the sender queues before dropping them. */
  reqq?: number;
  /** Our address as the sender sees it (4 or 16 bytes). */
  yourip?: Uint8Array;
  /** BEP 9: size of the info dict in bytes. */
  metadataSize?: number;
  /** The whole decoded dict, unknown keys included. */
  raw: BDict;
}

/** The payload of the extension handshake (what follows extended id 0). */
export function encodeExtendedHandshake(h: Omit<ExtendedHandshake, 'raw'>): Uint8Array {
  const m: Record<string, number> = {};
  for (const [name, id] of Object.entries(h.m)) {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`extension id of ${name} must be 0..255, got ${id}`);
    m[name] = id;
  }
  const dict: Record<string, unknown> = { m };
  if (h.p !== undefined) dict.p = h.p;
  if (h.v !== undefined) dict.v = h.v;
  if (h.reqq !== undefined) dict.reqq = h.reqq;
  if (h.yourip !== undefined) dict.yourip = h.yourip;
  if (h.metadataSize !== undefined) dict.metadata_size = h.metadataSize;
  return encode(dict);
}

function intIn(v: BValue | undefined, min: number, max: number): number | undefined {
  return isInt(v) && v >= min && v <= max ? v : undefined;
}

/** Decodes the payload of an extension handshake; see the file comment for what is refused. */
export function decodeExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  const raw = decodePayload(payload, 'extension handshake', { maxDepth: MAX_HANDSHAKE_DEPTH });
  if (!isDict(raw)) throw new ProtocolError('extension handshake is not a dictionary');
  const m: Record<string, number> = {};
  if (raw.m !== undefined) {
    if (!isDict(raw.m)) throw new ProtocolError('extension handshake: m is not a dictionary');
    for (const [name, id] of Object.entries(raw.m)) {
      if (name === '__proto__') continue;
      if (!isInt(id) || id < 0 || id > 255) throw new ProtocolError(`extension handshake: m.${name} must be an id 0..255`);
      m[name] = id;
    }
  }
  const h: ExtendedHandshake = { m, raw };
  const p = intIn(raw.p, 1, 0xffff);
  if (p !== undefined) h.p = p;
  const v = isBytes(raw.v) ? utf8OrUndefined(raw.v) : undefined;
  if (v !== undefined) h.v = v;
  const reqq = intIn(raw.reqq, 1, Number.MAX_SAFE_INTEGER);
  if (reqq !== undefined) h.reqq = reqq;
  if (isBytes(raw.yourip) && (raw.yourip.length === 4 || raw.yourip.length === 16)) h.yourip = raw.yourip;
  const metadataSize = intIn(raw.metadata_size, 1, MAX_METADATA_BYTES);
  if (metadataSize !== undefined) h.metadataSize = metadataSize;
  return h;
}

/** The id to send extension `name` under, or undefined when the remote lacks or disabled it. */
export function extensionId(h: Pick<ExtendedHandshake, 'm'>, name: string): number | undefined {
  const id = Object.hasOwn(h.m, name) ? h.m[name] : undefined;
  return id ? id : undefined;
}

/** A whole framed extended message (`<len><20><extId><payload>`). */
export function encodeExtended(extId: number, payload: Uint8Array): Uint8Array {
  return encodeExtendedFrame(extId, payload);
}
