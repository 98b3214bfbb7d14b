/**
 * Hostile traffic against one node, from a raw UDP socket: every datagram is
 * refused with the right KRPC/BEP 44 error or ignored, and the node keeps
 * serving afterwards.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { DhtNode } from '../src/dht/node.js';
import { decodeKrpc, encodeKrpc, type KrpcMessage, type KrpcQuery } from '../src/dht/krpc.js';
import { encodeItemValue, generateKeyPair, immutableTarget, mutableTarget, signMutable } from '../src/dht/bep44.js';
import { encode } from '../src/bencode/index.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { utf8 } from '../src/util/bytes.js';

const ID = randomBytes(20);

class Client {
  readonly socket = dgram.createSocket('udp4');
  #t = 0;
  readonly #waiters = new Map<string, (m: KrpcMessage) => void>();
  constructor(readonly port: number) {
    this.socket.on('message', (buf) => {
      try {
        const m = decodeKrpc(buf);
        this.#waiters.get(Buffer.from(m.t).toString('hex'))?.(m);
      } catch {
        // the node under test never sends garbage; ignore
      }
    });
  }
  async open(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
  }
  /** Sends raw bytes; resolves with the reply carrying `t`, or undefined after a bounded wait. */
  raw(buf: Uint8Array, t?: Uint8Array, waitMs = 400): Promise<KrpcMessage | undefined> {
    return new Promise((resolve) => {
      const key = t ? Buffer.from(t).toString('hex') : '';
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        resolve(undefined);
      }, waitMs);
      if (t) this.#waiters.set(key, (m) => {
        clearTimeout(timer);
        this.#waiters.delete(key);
        resolve(m);
      });
      this.socket.send(buf, this.port, '127.0.0.1');
    });
  }
  ask(query: KrpcQuery, waitMs = 3000): Promise<KrpcMessage | undefined> {
    const t = Uint8Array.of(this.#t >> 8, this.#t++ & 0xff);
    return this.raw(encodeKrpc({ y: 'q', t, query }), t, waitMs);
  }
  async token(target: Uint8Array): Promise<Uint8Array> {
    const r = await this.ask({ q: 'get', id: ID, target });
    if (r?.y !== 'r' || !r.response.token) throw new Error('no token');
    return r.response.token;
  }
  close(): void {
    this.socket.close();
  }
}

function errorCode(m: KrpcMessage | undefined): number | undefined {
  return m?.y === 'e' ? m.code : undefined;
}

async function setup(t: { teardown(fn: () => unknown): void }, settings = {}): Promise<{ node: DhtNode; client: Client }> {
  const node = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await node.start();
  const client = new Client(node.address.port);
  await client.open();
  t.teardown(async () => {
    client.close();
    await node.stop();
  });
  return { node, client };
}

async function stillServing(client: Client): Promise<boolean> {
  const r = await client.ask({ q: 'ping', id: ID });
  return r?.y === 'r';
}

test('garbage, truncated and oversize datagrams are ignored; the node keeps serving', async (t) => {
  const { node, client } = await setup(t);
  const junk = [utf8('hello'), randomBytes(300), utf8('d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:'), new Uint8Array(9000).fill(0x64), utf8('l'.repeat(5000)), utf8('i1e'), new Uint8Array(0)];
  for (const j of junk) t.is(await client.raw(j, utf8('aa'), 100), undefined);
  t.true(await stillServing(client));
  t.true(node.stats().refused >= junk.length - 1);
});

test('wrong types get 203 with the transaction id, unknown methods 204', async (t) => {
  const { client } = await setup(t);
  const bad = (a: Record<string, unknown>, q = 'find_node') => encode({ t: 'zz', y: 'q', q, a });
  t.is(errorCode(await client.raw(bad({ id: Buffer.alloc(19), target: ID }), utf8('zz'))), 203);
  t.is(errorCode(await client.raw(bad({ id: ID, target: 'short' }), utf8('zz'))), 203);
  t.is(errorCode(await client.raw(bad({ id: ID, info_hash: ID, port: 'x', token: 'x' }, 'announce_peer'), utf8('zz'))), 203);
  t.is(errorCode(await client.raw(bad({ id: ID }, 'steal_everything'), utf8('zz'))), 204);
  // A response nobody asked for is dropped silently.
  t.is(await client.raw(encode({ t: 'zz', y: 'r', r: { id: ID } }), utf8('zz'), 100), undefined);
  t.true(await stillServing(client));
});

test('announce_peer and put without a valid token are refused with 203', async (t) => {
  const { node, client } = await setup(t);
  const infoHash = randomBytes(20);
  t.is(errorCode(await client.ask({ q: 'announce_peer', id: ID, infoHash, port: 1234, token: utf8('forged'), impliedPort: false })), 203);
  const v = encodeItemValue(utf8('x'));
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: utf8('forged'), v })), 203);
  // A token handed out for another target does not work either.
  const other = await client.token(randomBytes(20));
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: other, v })), 203);
  t.is(node.stats().itemsStored, 0);
  t.is(node.stats().peersStored, 0);
  // With a real token both are accepted.
  const r = await client.ask({ q: 'get_peers', id: ID, infoHash });
  const tok = r?.y === 'r' ? r.response.token! : new Uint8Array();
  t.is((await client.ask({ q: 'announce_peer', id: ID, infoHash, port: 1234, token: tok, impliedPort: false }))?.y, 'r');
  t.is((await client.ask({ q: 'put', id: ID, token: await client.token(immutableTarget(v)), v }))?.y, 'r');
  t.is(node.stats().itemsStored, 1);
});

test('oversize values (205), forged signatures (206), oversize salts (207) are refused', async (t) => {
  const { node, client } = await setup(t);
  const big = encode(new Uint8Array(1200));
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: await client.token(immutableTarget(big)), v: big })), 205);

  const kp = generateKeyPair();
  const item = signMutable(kp, { seq: 1, v: encodeItemValue(utf8('signed')) });
  const target = mutableTarget(kp.publicKey);
  const forged = Uint8Array.from(item.sig);
  forged[10] ^= 0xff;
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: await client.token(target), v: item.v, mutable: { k: item.k, sig: forged, seq: 1 } })), 206);
  // Same signature, different value or seq: also a forgery.
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: await client.token(target), v: encodeItemValue(utf8('evil')), mutable: { k: item.k, sig: item.sig, seq: 1 } })), 206);
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: await client.token(target), v: item.v, mutable: { k: item.k, sig: item.sig, seq: 2 } })), 206);

  const salt = new Uint8Array(65).fill(1);
  t.is(errorCode(await client.ask({ q: 'put', id: ID, token: await client.token(mutableTarget(kp.publicKey, salt)), v: item.v, mutable: { k: item.k, sig: item.sig, seq: 1, salt } })), 207);
  t.is(node.stats().itemsStored, 0);
  t.true(await stillServing(client));
});

test('seq rollback is 302, cas mismatch 301, and the stored item is unchanged', async (t) => {
  const { node, client } = await setup(t);
  const kp = generateKeyPair();
  const salt = utf8('k');
  const target = mutableTarget(kp.publicKey, salt);
  const put = (seq: number, text: string, cas?: number) => {
    const item = signMutable(kp, { salt, seq, v: encodeItemValue(utf8(text)) });
    return client.token(target).then((token) => client.ask({ q: 'put', id: ID, token, v: item.v, mutable: { k: item.k, sig: item.sig, seq, salt, ...(cas !== undefined ? { cas } : {}) } }));
  };
  t.is((await put(5, 'five'))?.y, 'r');
  t.is(errorCode(await put(4, 'four')), 302);
  t.is(errorCode(await put(5, 'other five')), 302);
  t.is((await put(5, 'five'))?.y, 'r', 'same seq and value: a refresh');
  t.is(errorCode(await put(6, 'six', 4)), 301);
  const r = await client.ask({ q: 'get', id: ID, target });
  t.is(r?.y === 'r' ? r.response.seq : undefined, 5);
  t.deepEqual(r?.y === 'r' ? r.response.v : undefined, encodeItemValue(utf8('five')));
  // get with seq: the node only says which seq it has.
  const r2 = await client.ask({ q: 'get', id: ID, target, seq: 5 });
  t.is(r2?.y === 'r' ? r2.response.v : 'x', undefined);
  t.is((await put(6, 'six', 5))?.y, 'r');
  t.is(node.stats().itemsStored, 1);
});

test('puts beyond the per-address limit are dropped silently; the item cap refuses new items', async (t) => {
  const { node, client } = await setup(t, { dhtMaxPutsPerAddressPerMinute: 3, dhtMaxItems: 2 });
  const answers: (string | number | undefined)[] = [];
  for (let i = 0; i < 5; i++) {
    const v = encodeItemValue(utf8(`item ${i}`));
    const r = await client.ask({ q: 'put', id: ID, token: await client.token(immutableTarget(v)), v }, 1500);
    answers.push(r?.y === 'e' ? r.code : r?.y);
  }
  t.deepEqual(answers, ['r', 'r', 202, undefined, undefined]);
  t.is(node.stats().itemsStored, 2);
  t.true(await stillServing(client));
});
