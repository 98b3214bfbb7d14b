import test from 'ava';
import { encode } from '../src/bencode/index.js';
import { utf8 } from '../src/util/bytes.js';
import {
  decodeKrpc, encodeKrpc, encodeCompactNodes, decodeCompactNodes, KrpcDecodeError, MAX_DATAGRAM_BYTES,
  KRPC_METHOD_UNKNOWN, KRPC_PROTOCOL_ERROR, type KrpcMessage, type KrpcQuery,
} from '../src/dht/krpc.js';

const id = new Uint8Array(20).fill(1);
const target = new Uint8Array(20).fill(2);
const t = Uint8Array.of(0xaa, 0x01);

const queries: KrpcQuery[] = [
  { q: 'ping', id },
  { q: 'find_node', id, target },
  { q: 'get_peers', id, infoHash: target },
  { q: 'announce_peer', id, infoHash: target, port: 6881, token: utf8('tok'), impliedPort: false },
  { q: 'announce_peer', id, infoHash: target, port: 0, token: utf8('tok'), impliedPort: true },
  { q: 'get', id, target },
  { q: 'get', id, target, seq: 4 },
  { q: 'put', id, token: utf8('tok'), v: utf8('12:Hello World!') },
  { q: 'put', id, token: utf8('tok'), v: utf8('d1:ai1ee'), mutable: { k: new Uint8Array(32).fill(3), sig: new Uint8Array(64).fill(4), seq: 9, salt: utf8('s'), cas: 8 } },
];

for (const [i, query] of queries.entries()) {
  test(`round trip #${i}: ${query.q}${query.q === 'put' && query.mutable ? ' (mutable)' : ''}${query.q === 'announce_peer' && query.impliedPort ? ' (implied_port)' : ''}`, (tt) => {
    const msg: KrpcMessage = { y: 'q', t, query };
    tt.deepEqual(decodeKrpc(encodeKrpc(msg)), msg);
  });
}

test('round trip: response with nodes, values, token and an item', (tt) => {
  const msg: KrpcMessage = {
    y: 'r', t,
    response: {
      id,
      nodes: [{ id: target, host: '127.0.0.1', port: 6881 }, { id, host: '10.1.2.3', port: 65535 }],
      values: [{ host: '127.0.0.2', port: 1 }],
      token: utf8('tok'),
      v: utf8('l1:ai-3ee'),
      k: new Uint8Array(32).fill(5),
      sig: new Uint8Array(64).fill(6),
      seq: 0,
    },
  };
  tt.deepEqual(decodeKrpc(encodeKrpc(msg)), msg);
});

test('round trip: error', (tt) => {
  const msg: KrpcMessage = { y: 'e', t, code: 302, message: 'sequence number less than current' };
  tt.deepEqual(decodeKrpc(encodeKrpc(msg)), msg);
});

test('put keeps v as the verbatim bytes, even non-canonical', (tt) => {
  // Keys out of order inside v: a re-encode would reorder them and change the signature.
  const raw = Buffer.concat([Buffer.from('d1:ad2:id20:'), Buffer.alloc(20, 1), Buffer.from('5:token1:x1:vd1:bi1e1:ai2eee1:q3:put1:t2:aa1:y1:qe')]);
  const msg = decodeKrpc(raw);
  tt.is(msg.y, 'q');
  if (msg.y === 'q' && msg.query.q === 'put') tt.is(Buffer.from(msg.query.v).toString(), 'd1:bi1e1:ai2ee');
  else tt.fail();
});

test('compact nodes round trip and drop port 0', (tt) => {
  const nodes = [{ id, host: '1.2.3.4', port: 80 }, { id: target, host: '5.6.7.8', port: 0 }];
  tt.deepEqual(decodeCompactNodes(encodeCompactNodes(nodes)), [nodes[0]]);
});

function refusal(buf: Uint8Array): KrpcDecodeError {
  try {
    decodeKrpc(buf);
  } catch (err) {
    if (err instanceof KrpcDecodeError) return err;
    throw err;
  }
  throw new Error('accepted');
}

const q = (a: Record<string, unknown>, method = 'ping') => encode({ t: 'aa', y: 'q', q: method, a });

test('refuses garbage, non-dicts and oversize datagrams with 203', (tt) => {
  for (const bad of [utf8('hello'), utf8('i1e'), utf8('d1:t2:aae'), new Uint8Array(MAX_DATAGRAM_BYTES + 1), utf8('d1:t2:aa1:y1:qe'), utf8('d1:t0:1:y1:qe')]) {
    tt.is(refusal(bad).krpcCode, KRPC_PROTOCOL_ERROR);
  }
});

test('refuses wrong field types and lengths, keeping t for the error reply', (tt) => {
  const cases: [Uint8Array, RegExp][] = [
    [q({ id: Buffer.alloc(19) }), /a\.id/],
    [q({ id: 5 }), /a\.id/],
    [q({ id, target: Buffer.alloc(21) }, 'find_node'), /a\.target/],
    [q({ id, info_hash: target, token: 'x', port: 70000 }, 'announce_peer'), /a\.port/],
    [q({ id, info_hash: target, port: 1 }, 'announce_peer'), /a\.token/],
    [q({ id, token: 'x' }, 'put'), /a\.v/],
    [q({ id, token: 'x', v: 'x', k: Buffer.alloc(31), sig: Buffer.alloc(64), seq: 1 }, 'put'), /a\.k/],
    [q({ id, token: 'x', v: 'x', k: Buffer.alloc(32), sig: Buffer.alloc(64), seq: -1 }, 'put'), /a\.seq/],
    [q({ id, token: 'x', v: 'x', k: Buffer.alloc(32), sig: Buffer.alloc(63), seq: 1 }, 'put'), /a\.sig/],
    [q({ id, target, seq: 'x' }, 'get'), /a\.seq/],
  ];
  for (const [buf, re] of cases) {
    const err = refusal(buf);
    tt.is(err.krpcCode, KRPC_PROTOCOL_ERROR);
    tt.regex(err.message, re);
    tt.true(err.query);
    tt.is(Buffer.from(err.t!).toString(), 'aa');
  }
});

test('unknown method is 204', (tt) => {
  const err = refusal(q({ id }, 'vote'));
  tt.is(err.krpcCode, KRPC_METHOD_UNKNOWN);
  tt.true(err.query);
});

test('bad responses are refused but flagged as not queries (no reply)', (tt) => {
  const err = refusal(encode({ t: 'aa', y: 'r', r: { id, nodes: Buffer.alloc(27) } }));
  tt.false(err.query);
  tt.regex(err.message, /r\.nodes/);
});

test('values skip entries that are not 6-byte IPv4 peers', (tt) => {
  const msg = decodeKrpc(encode({ t: 'aa', y: 'r', r: { id, values: [Buffer.from([127, 0, 0, 1, 0, 80]), Buffer.alloc(18), 5] } }));
  tt.deepEqual(msg.y === 'r' ? msg.response.values : undefined, [{ host: '127.0.0.1', port: 80 }]);
});
