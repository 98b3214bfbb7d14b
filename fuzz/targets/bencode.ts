import { decode, encode } from '../../src/bencode/index.js';
import { BencodeError } from '../../src/errors.js';
import type { FuzzTarget } from '../target.js';

const target: FuzzTarget = {
  name: 'bencode',
  seeds: () => [
    encode({ announce: 'http://127.0.0.1:6969/announce', info: { name: 'a', length: 3, 'piece length': 16384, pieces: Buffer.alloc(20) } }),
    encode([1, -2, 'x', [[], {}], { a: { b: [0] } }]),
    encode({ t: 'aa', y: 'q', q: 'ping', a: { id: Buffer.alloc(20, 1) } }),
  ],
  run(input) {
    decode(input);
  },
  expected: (err) => err instanceof BencodeError,
};
export default target;
