/**
 * BEP 44 checks on hostile puts and get responses: decode the datagram, then
 * run exactly what a storing node (checkPut, checkUpdate) and a requesting
 * node (verifyGetResponse) run. Mutations of a correctly signed put exercise
 * the signature path as well as the size and type checks.
 */
import { decodeKrpc, encodeKrpc, KrpcDecodeError } from '../../src/dht/krpc.js';
import { checkPut, checkUpdate, encodeItemValue, generateKeyPair, mutableTarget, signMutable, verifyGetResponse } from '../../src/dht/bep44.js';
import { DhtError } from '../../src/errors.js';
import type { FuzzTarget } from '../target.js';

const kp = generateKeyPair();
const salt = Buffer.from('salt');
const item = signMutable(kp, { salt, seq: 5, v: encodeItemValue(Buffer.from('a signed value')) });
const id = Buffer.alloc(20, 7);
const stored = { seq: 5, v: item.v };

const target: FuzzTarget = {
  name: 'bep44',
  seeds: () => [
    encodeKrpc({ y: 'q', t: Buffer.from('aa'), query: { q: 'put', id, token: Buffer.from('tok'), v: item.v, mutable: { k: item.k, sig: item.sig, seq: item.seq, salt } } }),
    encodeKrpc({ y: 'q', t: Buffer.from('ab'), query: { q: 'put', id, token: Buffer.from('tok'), v: encodeItemValue(Buffer.from('immutable')) } }),
    encodeKrpc({ y: 'r', t: Buffer.from('ac'), response: { id, token: Buffer.from('tok'), v: item.v, k: item.k, sig: item.sig, seq: item.seq } }),
  ],
  run(input) {
    const msg = decodeKrpc(input);
    if (msg.y === 'q' && msg.query.q === 'put') {
      checkPut(msg.query.v, msg.query.mutable);
      if (msg.query.mutable) checkUpdate(stored, msg.query.mutable, msg.query.v);
    } else if (msg.y === 'r') {
      verifyGetResponse(mutableTarget(kp.publicKey, salt), salt, msg.response);
    }
  },
  expected: (err) => err instanceof KrpcDecodeError || err instanceof DhtError,
};
export default target;
