/**
 * BEP 43 read-only queries: `ro: 1` is a key of the top-level message
 * dictionary, where libtorrent looks for it (and sets it). Our nodes put it
 * inside the arguments until this was found against libtorrent: libtorrent
 * then kept every short-lived `peer kv` node in its routing table, and its
 * later lookups waited for those dead nodes to time out.
 */
import test from 'ava';
import { decode, encode } from '../src/bencode/index.js';
import { decodeKrpc, encodeKrpc } from '../src/dht/krpc.js';

const id = new Uint8Array(20).fill(1);
const target = new Uint8Array(20).fill(2);
const t = Uint8Array.of(0xaa, 0x01);

test('a read-only query carries ro=1 in the top-level dictionary, not in its arguments', (tt) => {
  const raw = decode(encodeKrpc({ y: 'q', t, query: { q: 'find_node', id, target }, readOnly: true })) as Record<string, unknown>;
  tt.is(raw.ro, 1);
  tt.false('ro' in (raw.a as Record<string, unknown>));
  const plain = decode(encodeKrpc({ y: 'q', t, query: { q: 'find_node', id, target } })) as Record<string, unknown>;
  tt.false('ro' in plain);
});

test('a query with a top-level ro=1 (libtorrent, BEP 43) decodes as read-only', (tt) => {
  const msg = decodeKrpc(encode({ t, y: 'q', q: 'get', a: { id, target }, ro: 1 }));
  tt.true(msg.y === 'q' && msg.readOnly === true);
});

test('a query with ro=1 among its arguments (our nodes before the fix) still decodes as read-only', (tt) => {
  const msg = decodeKrpc(encode({ t, y: 'q', q: 'ping', a: { id, ro: 1 } }));
  tt.true(msg.y === 'q' && msg.readOnly === true);
});

test('a query without ro, or with ro=0, is not read-only', (tt) => {
  for (const extra of [{}, { ro: 0 }]) {
    const msg = decodeKrpc(encode({ t, y: 'q', q: 'ping', a: { id }, ...extra }));
    tt.true(msg.y === 'q' && msg.readOnly === undefined);
  }
});
