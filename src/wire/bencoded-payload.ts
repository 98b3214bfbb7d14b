/**
 * Bencoded payloads of BEP 9/10/11 messages come from a remote peer: a
 * BencodeError there is that peer's protocol violation, so it is re-thrown
 * as a ProtocolError naming the message (one error type for a connection to
 * handle).
 */
import { decode, decodePrefix, type BValue, type ScanLimits } from '../bencode/index.js';
import { BencodeError, ProtocolError } from '../errors.js';

function refuse(what: string, err: unknown): never {
  if (err instanceof BencodeError) throw new ProtocolError(`${what}: ${err.message}`);
  throw err;
}

/** Exactly one bencoded value. */
export function decodePayload(payload: Uint8Array, what: string, limits: ScanLimits): BValue {
  try {
    return decode(payload, limits);
  } catch (err) {
    return refuse(what, err);
  }
}

/** A bencoded value followed by raw bytes (BEP 9 data). */
export function decodePayloadPrefix(payload: Uint8Array, what: string, limits: ScanLimits): { value: BValue; end: number } {
  try {
    return decodePrefix(payload, limits);
  } catch (err) {
    return refuse(what, err);
  }
}
