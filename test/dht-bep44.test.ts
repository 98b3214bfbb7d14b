import test from 'ava';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { DhtError } from '../src/errors.js';
import {
  BEP44_CAS_MISMATCH, BEP44_INVALID_SIGNATURE, BEP44_SALT_TOO_BIG, BEP44_SEQ_TOO_LOW, BEP44_VALUE_TOO_BIG,
  checkPut, checkUpdate, encodeItemValue, generateKeyPair, immutableTarget, keyPairFromSeed, mutableTarget,
  namespaceKeyPair, seedOf, signMutable, signatureBuffer, verifyGetResponse, verifySignature,
} from '../src/dht/bep44.js';

// BEP 44 "Test Vectors" section.
const VALUE = utf8('12:Hello World!');
const PUBKEY = fromHex('77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548');
const SIG1 = fromHex('305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01');
const SIG2 = fromHex('6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08');

test('BEP 44 vector 1 (mutable): signature buffer, target and signature', (t) => {
  const buf = signatureBuffer({ seq: 1, v: VALUE });
  t.is(Buffer.from(buf).toString(), '3:seqi1e1:v12:Hello World!');
  t.is(toHex(mutableTarget(PUBKEY)), '4a533d47ec9c7d95b1ad75f576cffc641853b750');
  t.true(verifySignature(PUBKEY, buf, SIG1));
  t.is(toHex(checkPut(VALUE, { k: PUBKEY, sig: SIG1, seq: 1 })), '4a533d47ec9c7d95b1ad75f576cffc641853b750');
});

test('BEP 44 vector 2 (mutable with salt): signature buffer, target and signature', (t) => {
  const salt = utf8('foobar');
  const buf = signatureBuffer({ salt, seq: 1, v: VALUE });
  t.is(Buffer.from(buf).toString(), '4:salt6:foobar3:seqi1e1:v12:Hello World!');
  t.is(toHex(mutableTarget(PUBKEY, salt)), '411eba73b6f087ca51a3795d9c8c938d365e32c1');
  t.true(verifySignature(PUBKEY, buf, SIG2));
  // The unsalted signature does not verify the salted buffer.
  t.false(verifySignature(PUBKEY, buf, SIG1));
});

test('BEP 44 vector 3 (immutable): target', (t) => {
  t.is(toHex(immutableTarget(VALUE)), 'e5f96f6f38320f0f33959cb4d3d656452117aadb');
  t.is(toHex(immutableTarget(encodeItemValue(utf8('Hello World!')))), 'e5f96f6f38320f0f33959cb4d3d656452117aadb');
});

test('an empty salt is the same as no salt (BEP 44)', (t) => {
  t.deepEqual(mutableTarget(PUBKEY, new Uint8Array(0)), mutableTarget(PUBKEY));
  t.deepEqual(signatureBuffer({ salt: new Uint8Array(0), seq: 1, v: VALUE }), signatureBuffer({ seq: 1, v: VALUE }));
});

test('sign then verify round trip with a generated key; tampering breaks it', (t) => {
  const kp = generateKeyPair();
  t.is(kp.publicKey.length, 32);
  const item = signMutable(kp, { salt: utf8('k'), seq: 7, v: encodeItemValue(utf8('x')) });
  t.deepEqual(checkPut(item.v, item), mutableTarget(kp.publicKey, utf8('k')));
  const err = t.throws(() => checkPut(item.v, { ...item, seq: 8 }), { instanceOf: DhtError }) as DhtError;
  t.is(err.krpcCode, BEP44_INVALID_SIGNATURE);
  const forged = Uint8Array.from(item.sig);
  forged[0] ^= 1;
  t.is((t.throws(() => checkPut(item.v, { ...item, sig: forged })) as DhtError).krpcCode, BEP44_INVALID_SIGNATURE);
});

test('keys survive a seed round trip; namespace keys are deterministic and distinct', (t) => {
  const kp = generateKeyPair();
  t.deepEqual(keyPairFromSeed(seedOf(kp.privateKey)).publicKey, kp.publicKey);
  t.deepEqual(namespaceKeyPair('team').publicKey, namespaceKeyPair('team').publicKey);
  t.notDeepEqual(namespaceKeyPair('team').publicKey, namespaceKeyPair('team2').publicKey);
});

test('size limits: v over 1000 bytes is 205, salt over 64 bytes is 207', (t) => {
  t.is((t.throws(() => encodeItemValue(new Uint8Array(997))) as DhtError).krpcCode, BEP44_VALUE_TOO_BIG);
  t.is(encodeItemValue(new Uint8Array(996)).length, 1000);
  t.regex((t.throws(() => encodeItemValue(new Uint8Array(2000))) as DhtError).message, /1000/);
  t.is((t.throws(() => checkPut(new Uint8Array(1001))) as DhtError).krpcCode, BEP44_VALUE_TOO_BIG);
  const kp = generateKeyPair();
  t.is((t.throws(() => signMutable(kp, { salt: new Uint8Array(65), seq: 1, v: VALUE })) as DhtError).krpcCode, BEP44_SALT_TOO_BIG);
  t.is((t.throws(() => checkPut(VALUE, { k: kp.publicKey, sig: new Uint8Array(64), seq: 1, salt: new Uint8Array(65) })) as DhtError).krpcCode, BEP44_SALT_TOO_BIG);
});

test('update rules: cas mismatch 301, seq rollback 302, equal seq only for the same value', (t) => {
  const stored = { seq: 5, v: VALUE };
  const base = { k: PUBKEY, sig: SIG1 };
  t.is((t.throws(() => checkUpdate(stored, { ...base, seq: 6, cas: 4 }, VALUE)) as DhtError).krpcCode, BEP44_CAS_MISMATCH);
  t.notThrows(() => checkUpdate(stored, { ...base, seq: 6, cas: 5 }, VALUE));
  t.is((t.throws(() => checkUpdate(stored, { ...base, seq: 4 }, VALUE)) as DhtError).krpcCode, BEP44_SEQ_TOO_LOW);
  t.notThrows(() => checkUpdate(stored, { ...base, seq: 5 }, VALUE));
  t.is((t.throws(() => checkUpdate(stored, { ...base, seq: 5 }, utf8('1:x'))) as DhtError).krpcCode, BEP44_SEQ_TOO_LOW);
  t.notThrows(() => checkUpdate(undefined, { ...base, seq: 0, cas: 9 }, VALUE));
});

test('verifyGetResponse checks the target and the signature', (t) => {
  const target = mutableTarget(PUBKEY, utf8('foobar'));
  const ok = verifyGetResponse(target, utf8('foobar'), { v: VALUE, k: PUBKEY, sig: SIG2, seq: 1 });
  t.is(ok?.kind, 'mutable');
  t.is(verifyGetResponse(target, undefined, { v: VALUE, k: PUBKEY, sig: SIG2, seq: 1 }), undefined, 'wrong salt');
  t.is(verifyGetResponse(target, utf8('foobar'), { v: VALUE, k: PUBKEY, sig: SIG2, seq: 2 }), undefined, 'seq not signed');
  t.is(verifyGetResponse(immutableTarget(VALUE), undefined, { v: VALUE })?.kind, 'immutable');
  t.is(verifyGetResponse(immutableTarget(VALUE), undefined, { v: utf8('1:x') }), undefined);
  t.false(verifySignature(new Uint8Array(32), VALUE, SIG1));
});
