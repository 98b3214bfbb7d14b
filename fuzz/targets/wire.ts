/**
 * Fuzzes the peer wire codec as a connection uses it: an optional handshake,
 * then a stream cut at input-derived points into chunks for a FrameDecoder,
 * each frame through decodeMessage, checkMessage and the bitfield-order
 * check, and extended payloads through the BEP 10/9/11 decoders.
 *
 * Every input must end in messages or a typed refusal. Beyond "no uncaught
 * exception", it asserts (with plain Errors, which count as failures):
 * the decoder never holds more than maxFrameBytes + 4 bytes, and every
 * decoded message re-encodes to exactly the bytes it came from.
 */
import { BencodeError, ProtocolError } from '../../src/errors.js';
import { encodeExtendedHandshake, decodeExtendedHandshake } from '../../src/wire/extension.js';
import { FrameDecoder, maxFrameBytesFor } from '../../src/wire/framer.js';
import { HandshakeReader, encodeHandshake } from '../../src/wire/handshake.js';
import { decodeMessage, encodeMessage, type PeerMessage } from '../../src/wire/messages.js';
import { decodeMetadataMessage, encodeMetadataMessage } from '../../src/wire/ut-metadata.js';
import { decodePex, encodePex } from '../../src/wire/ut-pex.js';
import { PieceSetOrder, checkMessage, type TorrentShape } from '../../src/wire/validate.js';
import type { FuzzTarget } from '../target.js';

const SHAPE: TorrentShape = { pieceLength: 16384, pieceCount: 10, totalLength: 9 * 16384 + 1000 };
const MAX_REQUEST_BYTES = 128 * 1024;
const FULL_MAX = maxFrameBytesFor(SHAPE.pieceLength, SHAPE.pieceCount);
/** A tighter bound (above every seed frame) for a quarter of the inputs, so mutated lengths hit the refusal path too. */
const TIGHT_MAX = 1000;

/** Extension ids the fuzzed connection "announced". */
const UT_METADATA_ID = 1;
const UT_PEX_ID = 2;

function frames(msgs: PeerMessage[]): Uint8Array {
  return Buffer.concat(msgs.map(encodeMessage));
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

function seeds(): Uint8Array[] {
  const hs = encodeHandshake({ infoHash: bytes(20, 1), peerId: bytes(20, 2), extensionProtocol: true, fast: true, dht: true });
  const extHs = encodeExtendedHandshake({ m: { ut_metadata: UT_METADATA_ID, ut_pex: UT_PEX_ID }, p: 6881, v: 'fuzz', reqq: 250, metadataSize: 300 });
  const every: PeerMessage[] = [
    { type: 'bitfield', bytes: Uint8Array.from([0xa5, 0x40]) },
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have', index: 7 },
    { type: 'request', index: 3, begin: 0, length: 16384 },
    { type: 'piece', index: 9, begin: 936, block: bytes(64, 3) },
    { type: 'cancel', index: 3, begin: 0, length: 16384 },
    { type: 'port', port: 6881 },
    { type: 'suggest', index: 2 },
    { type: 'reject', index: 1, begin: 16000, length: 384 },
    { type: 'allowed-fast', index: 4 },
    { type: 'unknown', id: 42, payload: bytes(3, 4) },
  ];
  const extensions: PeerMessage[] = [
    { type: 'extended', id: 0, payload: extHs },
    { type: 'extended', id: UT_METADATA_ID, payload: encodeMetadataMessage({ msgType: 'request', piece: 0 }) },
    { type: 'extended', id: UT_METADATA_ID, payload: encodeMetadataMessage({ msgType: 'data', piece: 0, totalSize: 300, data: bytes(300, 5) }) },
    { type: 'extended', id: UT_METADATA_ID, payload: encodeMetadataMessage({ msgType: 'reject', piece: 1 }) },
    {
      type: 'extended',
      id: UT_PEX_ID,
      payload: encodePex({ added: [{ host: '127.0.0.2', port: 6881 }, { host: '127.0.0.3', port: 6882 }], addedFlags: [2, 16], dropped: [{ host: '127.0.0.4', port: 1 }] }),
    },
  ];
  return [
    frames(every),
    Buffer.concat([hs, frames([{ type: 'have-all' }, ...extensions, { type: 'interested' }])]),
    frames([{ type: 'extended', id: 0, payload: extHs }, { type: 'have-none' }, { type: 'have', index: 9 }, { type: 'request', index: 9, begin: 0, length: 1000 }]),
    frames(extensions),
    Buffer.concat([hs, frames(every.slice(0, 6))]),
  ];
}

/** FNV-1a over the first bytes and the length: picks the mode and the cut points. */
function inputHash(input: Uint8Array): number {
  let h = 0x811c9dc5 ^ input.length;
  for (let i = 0; i < Math.min(input.length, 32); i++) h = Math.imul(h ^ input[i]!, 0x01000193);
  return h >>> 0 || 1;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function onExtended(msg: { id: number; payload: Uint8Array }): void {
  if (msg.id === 0) decodeExtendedHandshake(msg.payload);
  else if (msg.id === UT_METADATA_ID) decodeMetadataMessage(msg.payload);
  else if (msg.id === UT_PEX_ID) decodePex(msg.payload);
}

function run(input: Uint8Array): void {
  let state = inputHash(input);
  const rand = (n: number): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
  const max = rand(4) === 0 ? TIGHT_MAX : FULL_MAX;
  const decoder = new FrameDecoder({ maxFrameBytes: max });
  const order = new PieceSetOrder();
  let stream = input;
  if (input[0] === 19) {
    const reader = new HandshakeReader();
    const rest = reader.push(input);
    if (!rest) return; // a partial handshake: the connection waits for more
    stream = rest;
  }
  const onFrame = (frame: Uint8Array): void => {
    const msg = decodeMessage(frame);
    const again = encodeMessage(msg);
    if (again.length !== frame.length + 4 || !sameBytes(again.subarray(4), frame)) {
      throw new Error(`${msg.type} does not re-encode to its frame`);
    }
    checkMessage(msg, SHAPE, MAX_REQUEST_BYTES);
    order.observe(msg);
    if (msg.type === 'extended') onExtended(msg);
  };
  // Half the inputs go through feed() as a socket with a reused onread buffer does:
  // each chunk is copied into one buffer that is scribbled over after the call.
  const reused = rand(2) === 0 ? new Uint8Array(256) : undefined;
  let pos = 0;
  while (pos < stream.length) {
    const n = rand(4) === 0 ? rand(4) : 1 + rand(200);
    const chunk = stream.subarray(pos, pos + n);
    pos += n;
    if (reused) {
      reused.set(chunk);
      decoder.feed(reused.subarray(0, chunk.length), onFrame);
      reused.fill(0xa5);
    } else {
      for (const frame of decoder.push(chunk)) onFrame(frame);
    }
    if (decoder.buffered > max + 4) throw new Error(`decoder holds ${decoder.buffered} bytes, bound is ${max + 4}`);
  }
}

const target: FuzzTarget = {
  name: 'wire',
  seeds,
  run,
  expected: (err) => err instanceof ProtocolError || err instanceof BencodeError,
};
export default target;
