import test from 'ava';
import { Bitfield } from '../src/util/bitfield.js';

test('bit 7 of byte 0 is piece 0, spare bits stay zero', (t) => {
  const bf = new Bitfield(10);
  bf.set(0);
  bf.set(9);
  t.deepEqual([...bf.toBytes()], [0x80, 0x40]);
  t.is(bf.count(), 2);
  t.true(bf.get(9));
  t.false(bf.get(10));
  t.deepEqual([...bf.ones()], [0, 9]);
});

test('refuses wire bytes with spare bits set or the wrong size', (t) => {
  t.throws(() => new Bitfield(10, Uint8Array.from([0, 0x20])), { message: /spare bits/ });
  t.throws(() => new Bitfield(10, Uint8Array.from([0])), { message: /needs 2 bytes/ });
  t.is(new Bitfield(10, Uint8Array.from([0xff, 0xc0])).count(), 10);
});

test('full() and isComplete()', (t) => {
  t.true(Bitfield.full(13).isComplete());
  t.false(new Bitfield(13).isComplete());
  t.true(new Bitfield(0).isComplete());
});
