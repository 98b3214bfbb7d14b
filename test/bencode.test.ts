import test from 'ava';
import { decode, decodePrefix, dictValueSpan, encode, validate, dictEntries } from '../src/bencode/index.js';
import { BencodeError } from '../src/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('round-trips nested values', (t) => {
  const value = { a: [1, -2, Buffer.from('x')], b: { c: Buffer.from([0, 255]) } };
  const bytes = encode(value);
  t.is(Buffer.from(bytes).toString('latin1'), 'd1:ali1ei-2e1:xe1:bd1:c2:\x00\xffee');
  const back = decode(bytes) as { a: unknown[]; b: { c: Uint8Array } };
  t.is(back.a[1], -2);
  t.deepEqual([...back.b.c], [0, 255]);
});

test('refuses 100,000 nested lists without overflowing the stack', (t) => {
  const deep = Buffer.concat([Buffer.alloc(100_000, 'l'), Buffer.alloc(100_000, 'e')]);
  const err = t.throws(() => decode(deep), { instanceOf: BencodeError });
  t.regex(err!.message, /nesting deeper than/);
});

test('refuses a string length that claims gigabytes', (t) => {
  const err = t.throws(() => decode(b('4000000000:abc')), { instanceOf: BencodeError });
  t.regex(err!.message, /claims 4000000000 bytes/);
});

test('refuses trailing garbage and truncation', (t) => {
  t.regex(t.throws(() => decode(b('i1ejunk')))!.message, /trailing garbage/);
  t.regex(t.throws(() => decode(b('d1:ai1e')))!.message, /not closed/);
  t.regex(t.throws(() => decode(b('')))!.message, /empty input/);
});

test('refuses non-canonical integers and non-string keys', (t) => {
  for (const bad of ['i-0e', 'i01e', 'ie', 'i1.5e', 'di1ei2ee', 'd1:ae', '01:a']) {
    t.throws(() => validate(b(bad)), { instanceOf: BencodeError }, bad);
  }
});

test('gives the exact span of a dictionary value, keys in any order', (t) => {
  const raw = b('d4:infod6:lengthi1e4:name1:xe8:announce1:ue');
  const span = dictValueSpan(raw, 'info')!;
  t.is(raw.subarray(span.start, span.end).toString('latin1'), 'd6:lengthi1e4:name1:xe');
  t.deepEqual(dictEntries(raw).map((e) => Buffer.from(e.key).toString()), ['info', 'announce']);
  t.is(dictValueSpan(raw, 'missing'), undefined);
});

test('decodePrefix stops at the end of the first value', (t) => {
  const r = decodePrefix(b('d8:msg_typei1eeRAWBYTES'));
  t.is(r.end, 15);
  t.deepEqual(r.value, { msg_type: 1 });
});
