import test from 'ava';
import { ProtocolError } from '../src/errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, MAX_EXTENDED_FRAME_BYTES, maxFrameBytesFor } from '../src/wire/framer.js';
import { decodeMessage, type PeerMessage } from '../src/wire/messages.js';
import { SHAPE, block, concat, hex, normalize, recordedStream, sameValue } from './wire-fixtures.js';

/** A piece message of index 0, begin 0 and a 16 KiB block: length 9 + 16384 = 0x4009 (BEP 3). */
const PIECE_FRAME = concat([hex('00004009 07 00000000 00000000'), block(16384)]);

const MAX = maxFrameBytesFor(SHAPE.pieceLength, SHAPE.pieceCount);

function decodeChunks(chunks: Uint8Array[], max = MAX): PeerMessage[] {
  const dec = new FrameDecoder({ maxFrameBytes: max });
  const out: PeerMessage[] = [];
  for (const c of chunks) {
    for (const f of dec.push(c)) out.push(decodeMessage(f));
    if (dec.buffered > max + 4) throw new Error(`buffered ${dec.buffered} over the bound`);
  }
  if (dec.buffered !== 0) throw new Error(`${dec.buffered} bytes left over`);
  return out;
}

// xorshift32, seeded: failures replay.
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

test('the recorded stream in one chunk decodes to the recorded messages', (t) => {
  const { messages, bytes } = recordedStream();
  t.deepEqual(normalize(decodeChunks([bytes])), normalize(messages));
});

test('split in two and in three at every offset, the recorded stream (1 KiB blocks) decodes identically', (t) => {
  const { messages, bytes } = recordedStream(false);
  let bad = 0;
  for (let cut = 0; cut <= bytes.length; cut++) {
    if (!sameValue(decodeChunks([bytes.subarray(0, cut), bytes.subarray(cut)]), messages)) bad++;
    // A second cut a few bytes later puts a short chunk (often a lone header piece) in the middle.
    const cut2 = Math.min(bytes.length, cut + 1 + (cut % 7));
    if (!sameValue(decodeChunks([bytes.subarray(0, cut), bytes.subarray(cut, cut2), bytes.subarray(cut2)]), messages)) bad++;
  }
  t.is(bad, 0, `${bytes.length + 1} offsets`);
});

test('split in two at every offset around each frame boundary of the stream with the 128 KiB block', (t) => {
  const { messages, frames, bytes } = recordedStream();
  const boundaries: number[] = [0];
  for (const f of frames) boundaries.push(boundaries[boundaries.length - 1]! + f.length);
  let cuts = 0;
  for (const b of boundaries) {
    for (let cut = Math.max(0, b - 12); cut <= Math.min(bytes.length, b + 12); cut++) {
      t.true(sameValue(decodeChunks([bytes.subarray(0, cut), bytes.subarray(cut)]), messages), `cut at ${cut}`);
      cuts++;
    }
  }
  t.true(cuts > 500);
});

/** `bytes` cut at random points: mostly small chunks, sometimes large ones, sometimes empty ones. */
function randomChunks(bytes: Uint8Array, rand: (n: number) => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const kind = rand(4);
    const n = kind === 0 ? rand(8) : kind === 1 ? rand(200) : kind === 2 ? rand(20000) : rand(70000);
    chunks.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

test('split at random points (2000 runs of mixed chunk sizes), the stream with the 128 KiB block decodes identically', (t) => {
  const { messages, bytes } = recordedStream();
  const rand = prng(42);
  for (let run = 0; run < 2000; run++) {
    if (!sameValue(decodeChunks(randomChunks(bytes, rand)), messages)) return t.fail(`run ${run} differs`);
  }
  t.pass();
});

test('one byte at a time, the recorded stream decodes identically', (t) => {
  const { messages, bytes } = recordedStream();
  const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  t.true(sameValue(decodeChunks(chunks), messages));
});

test('a frame inside one chunk is a view of it; a split frame is copied once into an exact-size buffer', (t) => {
  const piece = PIECE_FRAME;
  const dec = new FrameDecoder({ maxFrameBytes: MAX });
  const [whole] = dec.push(piece);
  t.is(whole!.buffer, piece.buffer, 'no copy');
  t.is(dec.push(piece.subarray(0, 100)).length, 0);
  const [joined] = dec.push(piece.subarray(100));
  t.not(joined!.buffer, piece.buffer);
  t.is(joined!.buffer.byteLength, piece.length - 4, 'buffer of exactly the frame size');
  t.deepEqual(Buffer.from(joined!), Buffer.from(piece.subarray(4)));
});

/**
 * feed() as a socket with an `onread` buffer drives it: every chunk is copied
 * into one reused buffer, which is overwritten (here with 0xEE) as soon as
 * feed returns; messages are decoded inside the callback, as the connection does.
 */
function feedThroughReusedBuffer(chunks: Uint8Array[], max = MAX): PeerMessage[] {
  const dec = new FrameDecoder({ maxFrameBytes: max });
  const shared = new Uint8Array(Math.max(1, ...chunks.map((c) => c.length)));
  const out: PeerMessage[] = [];
  for (const c of chunks) {
    shared.set(c);
    dec.feed(shared.subarray(0, c.length), (f) => {
      // A decoded message may still view the frame: keep a copy of its byte fields.
      const m = decodeMessage(f) as unknown as Record<string, unknown>;
      out.push(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? Uint8Array.from(v) : v])) as unknown as PeerMessage);
    });
    shared.fill(0xee);
    if (dec.buffered > max + 4) throw new Error(`buffered ${dec.buffered} over the bound`);
  }
  if (dec.buffered !== 0) throw new Error(`${dec.buffered} bytes left over`);
  return out;
}

test('feed: through one reused read buffer, overwritten after each call, random splits decode identically (1000 runs)', (t) => {
  const { messages, bytes } = recordedStream();
  const rand = prng(7);
  for (let run = 0; run < 1000; run++) {
    if (!sameValue(feedThroughReusedBuffer(randomChunks(bytes, rand)), messages)) return t.fail(`run ${run} differs`);
  }
  t.pass();
});

test('feed: split frames of one stream reuse a single scratch buffer; a frame inside a chunk is a view of it', (t) => {
  const piece = PIECE_FRAME;
  const dec = new FrameDecoder({ maxFrameBytes: MAX });
  const buffers = new Set<ArrayBufferLike>();
  let inside: ArrayBufferLike | undefined;
  dec.feed(piece, (f) => (inside = f.buffer));
  t.is(inside, piece.buffer, 'no copy');
  for (let i = 0; i < 5; i++) {
    dec.feed(piece.subarray(0, 100 + i), () => t.fail('no frame yet'));
    dec.feed(piece.subarray(100 + i), (f) => {
      buffers.add(f.buffer);
      t.deepEqual(Buffer.from(f), Buffer.from(piece.subarray(4)));
    });
  }
  t.is(buffers.size, 1);
});

test('feed: an error thrown by the callback stops the decoder; later calls throw a ProtocolError', (t) => {
  const have = hex('00000005 04 00000001');
  const dec = new FrameDecoder({ maxFrameBytes: MAX });
  t.throws(() => dec.feed(have, () => { throw new Error('handler broke'); }), { message: 'handler broke' });
  t.throws(() => dec.feed(have, () => undefined), { instanceOf: ProtocolError, message: /handler broke/ });
});

test('a length over maxFrameBytes is refused at its header, before any payload is buffered', (t) => {
  const dec = new FrameDecoder({ maxFrameBytes: 1000 });
  t.deepEqual(dec.push(Uint8Array.from([0, 0, 3])), []);
  t.is(dec.buffered, 3);
  const err = t.throws(() => dec.push(Uint8Array.from([0xe9])), { instanceOf: ProtocolError, message: /frame of 1001 bytes exceeds the limit of 1000/ });
  t.is(err?.code, 'EPROTOCOL');
  // The stream has lost sync: later bytes are refused too.
  t.throws(() => dec.push(Uint8Array.from([0, 0, 0, 0])), { instanceOf: ProtocolError });
});

test('a 2^31 length prefix is refused at once under the default bound', (t) => {
  const dec = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
  t.throws(() => dec.push(Uint8Array.from([0x80, 0, 0, 0, 7])), { instanceOf: ProtocolError, message: /frame of 2147483648 bytes/ });
  t.throws(() => new FrameDecoder({ maxFrameBytes: MAX }).push(Uint8Array.from([0xff, 0xff, 0xff, 0xff])), { instanceOf: ProtocolError });
});

test('a frame exactly at the bound is accepted', (t) => {
  const max = 300_000;
  const frame = concat([Uint8Array.from([0, 0x04, 0x93, 0xe0, 20, 9]), new Uint8Array(max - 2)]);
  const dec = new FrameDecoder({ maxFrameBytes: max });
  let frames: Uint8Array[] = [];
  for (let i = 0; i < frame.length; i += 1000) {
    frames = frames.concat(dec.push(frame.subarray(i, i + 1000)));
    t.true(dec.buffered <= max + 4);
  }
  t.is(frames.length, 1);
  t.is(frames[0]!.length, max);
});

test('buffered counts partial bytes and returns to 0 after a whole frame', (t) => {
  const dec = new FrameDecoder({ maxFrameBytes: MAX });
  const have = hex('00000005 04 00000003');
  dec.push(have.subarray(0, 2));
  t.is(dec.buffered, 2);
  dec.push(have.subarray(2, 6));
  t.is(dec.buffered, 6);
  t.is(dec.push(have.subarray(6)).length, 1);
  t.is(dec.buffered, 0);
});

test('setMaxFrameBytes tightens the bound for later frames', (t) => {
  const dec = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
  // A bitfield of 5000 bytes: length 5001 = 0x1389.
  const bitfield = concat([hex('00001389 05'), new Uint8Array(5000)]);
  t.is(dec.push(bitfield).length, 1);
  dec.setMaxFrameBytes(100);
  t.is(dec.maxFrameBytes, 100);
  t.throws(() => dec.push(bitfield), { instanceOf: ProtocolError });
});

test('many tiny frames in many tiny chunks stay linear: 200k keep-alives, 1 byte per push', (t) => {
  // Not a timing assertion: an O(n^2) decoder would take minutes here and hit the test timeout.
  const dec = new FrameDecoder({ maxFrameBytes: MAX });
  const one = new Uint8Array(1);
  let frames = 0;
  for (let i = 0; i < 800_000; i++) frames += dec.push(one).length;
  t.is(frames, 200_000);
});

test('a 1 MiB extension frame fed in 1-byte chunks arrives whole', (t) => {
  const payload = block(MAX_EXTENDED_FRAME_BYTES - 2);
  // BEP 10 message 7: length 2 + payload = 1 MiB = 0x100000.
  const framed = concat([hex('00100000 14 07'), payload]);
  const dec = new FrameDecoder({ maxFrameBytes: MAX_EXTENDED_FRAME_BYTES });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < framed.length; i++) {
    const got = dec.push(framed.subarray(i, i + 1));
    for (const f of got) frames.push(f);
  }
  t.is(frames.length, 1);
  t.true(Buffer.from(frames[0]!).equals(Buffer.from(framed.subarray(4))));
});

test('maxFrameBytesFor: at least a piece message with a 128 KiB block, a bitfield, an extension message', (t) => {
  t.is(maxFrameBytesFor(16384, 10), MAX_EXTENDED_FRAME_BYTES);
  t.true(maxFrameBytesFor(4 * 1024 * 1024, 100) >= 9 + 128 * 1024);
  t.is(maxFrameBytesFor(16384, 10_000_000), 1 + 1_250_000, 'a bitfield of 10M pieces');
  t.is(maxFrameBytesFor(1 << 20, 1, 4 << 20), 9 + (1 << 20), 'a block never exceeds the piece');
  t.throws(() => maxFrameBytesFor(0, 1), { instanceOf: RangeError });
});
