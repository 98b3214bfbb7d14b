import test from 'ava';
import { PieceImage, imageBytes } from '../src/session/piece-image.js';
import { FrameDecoder } from '../src/wire/framer.js';
import { decodeMessage } from '../src/wire/messages.js';
import { MemoryStore } from '../src/storage/memory-store.js';
import { makeFixture } from './storage-fixtures.js';

const BLOCK = 1024;
// Pieces of 4 KiB + 300 bytes: 4 whole blocks and a short fifth; the last piece is 2500 bytes.
const fx = makeFixture({ files: [{ path: ['a.bin'], length: 3 * 4396 + 2500 }], pieceLength: 4396, multiFile: false });

async function imageOf(index: number): Promise<PieceImage> {
  const store = new MemoryStore({ info: fx.info, data: fx.data });
  await store.open();
  const image = new PieceImage(fx.info, index, BLOCK, Buffer.alloc(imageBytes(fx.info.pieceLength, BLOCK) + 7, 0xee));
  await store.readv(index * fx.info.pieceLength, image.payloadViews());
  return image;
}

function pieceData(index: number): Buffer {
  const start = index * fx.info.pieceLength;
  return Buffer.from(fx.data.subarray(start, Math.min(fx.info.length, start + fx.info.pieceLength)));
}

test('the image of a piece decodes to one piece message per block, in order, carrying the piece', async (t) => {
  for (const index of [0, 3]) {
    const image = await imageOf(index);
    const msgs: { index: number; begin: number; block: Buffer }[] = [];
    new FrameDecoder({ maxFrameBytes: 1 << 20 }).feed(image.messages(0, image.blocks), (f) => {
      const m = decodeMessage(f);
      if (m.type !== 'piece') throw new Error(`a ${m.type} message in the image`);
      msgs.push({ index: m.index, begin: m.begin, block: Buffer.from(m.block) });
    });
    t.is(msgs.length, Math.ceil(pieceData(index).length / BLOCK));
    t.true(msgs.every((m, b) => m.index === index && m.begin === b * BLOCK));
    t.true(Buffer.concat(msgs.map((m) => m.block)).equals(pieceData(index)), `piece ${index}`);
  }
});

test('messages(from, to) is exactly the run of those blocks; blockOf accepts only blocks on the grid', async (t) => {
  const image = await imageOf(1);
  const run = image.messages(1, 3);
  t.is(run.length, 2 * (13 + BLOCK));
  t.is(run.readUInt32BE(9), BLOCK, 'first message of the run starts at block 1');
  t.is(image.messages(4, 5).length, 13 + 300, 'the short last block');
  t.is(image.blockOf(2 * BLOCK, BLOCK), 2);
  t.is(image.blockOf(4 * BLOCK, 300), 4);
  t.is(image.blockOf(4 * BLOCK, BLOCK), -1, 'longer than the short last block');
  t.is(image.blockOf(100, BLOCK), -1, 'off the grid');
  t.is(image.blockOf(0, 512), -1, 'another block size');
  t.is(image.blockOf(5 * BLOCK, 1), -1, 'past the piece');
});

test('payload() serves any range: a view inside one block, a copy across blocks', async (t) => {
  const image = await imageOf(0);
  const data = pieceData(0);
  for (const [begin, length] of [
    [0, 16],
    [100, 900],
    [1000, 100],
    [1000, 3000],
    [0, data.length],
    [data.length - 1, 1],
  ] as const) {
    t.true(image.payload(begin, length).equals(data.subarray(begin, begin + length)), `${begin}+${length}`);
  }
  t.is(image.payload(100, 900).buffer, image.bytes.buffer, 'inside one block: no copy');
  t.throws(() => image.payload(data.length - 1, 2), { instanceOf: RangeError });
});

test('fill() lays out data read in one piece the same as a scatter read', async (t) => {
  const viaReadv = await imageOf(2);
  const filled = new PieceImage(fx.info, 2, BLOCK, Buffer.alloc(imageBytes(fx.info.pieceLength, BLOCK)));
  filled.fill(pieceData(2));
  t.true(filled.bytes.equals(viaReadv.bytes));
  t.throws(() => filled.fill(new Uint8Array(10)), { instanceOf: RangeError });
  t.throws(() => new PieceImage(fx.info, 0, BLOCK, Buffer.alloc(100)), { instanceOf: RangeError });
});

test('reuseFor() turns an image into the image of another piece of the same size', async (t) => {
  const image = await imageOf(0);
  image.refs = 1;
  t.throws(() => image.reuseFor(1), { message: /still being written/ });
  image.refs = 0;
  image.evicted = true;
  image.reuseFor(2);
  t.false(image.evicted);
  const store = new MemoryStore({ info: fx.info, data: fx.data });
  await store.open();
  await store.readv(2 * fx.info.pieceLength, image.payloadViews());
  const fresh = await imageOf(2);
  t.true(image.bytes.equals(fresh.bytes), 'headers and payload as if built for piece 2');
});
