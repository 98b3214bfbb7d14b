import { decodeKrpc, encodeKrpc, KrpcDecodeError } from '../../src/dht/krpc.js';
import { encode } from '../../src/bencode/index.js';
import type { FuzzTarget } from '../target.js';

const id = Buffer.alloc(20, 0x11);
const target: FuzzTarget = {
  name: 'krpc',
  seeds: () => [
    encodeKrpc({ y: 'q', t: Buffer.from('aa'), query: { q: 'ping', id } }),
    encodeKrpc({ y: 'q', t: Buffer.from('ab'), query: { q: 'find_node', id, target: id } }),
    encodeKrpc({ y: 'q', t: Buffer.from('ac'), query: { q: 'announce_peer', id, infoHash: id, port: 6881, token: Buffer.from('tok'), impliedPort: true } }),
    encodeKrpc({ y: 'q', t: Buffer.from('ad'), query: { q: 'put', id, token: Buffer.from('tok'), v: encode({ a: [1, 'x'] }), mutable: { k: Buffer.alloc(32, 2), sig: Buffer.alloc(64, 3), seq: 4, salt: Buffer.from('s'), cas: 3 } } }),
    encodeKrpc({ y: 'r', t: Buffer.from('ae'), response: { id, token: Buffer.from('tok'), nodes: [{ id, host: '127.0.0.1', port: 6881 }], values: [{ host: '10.0.0.1', port: 1 }], v: encode('hi'), k: Buffer.alloc(32), sig: Buffer.alloc(64), seq: 1 } }),
    encodeKrpc({ y: 'e', t: Buffer.from('af'), code: 203, message: 'bad' }),
  ],
  run(input) {
    const msg = decodeKrpc(input);
    // Whatever decodes must encode again (no value the encoder chokes on).
    encodeKrpc(msg);
  },
  expected: (err) => err instanceof KrpcDecodeError,
};
export default target;
