/**
 * Issue 11, part 5, on the built command: 1,280 DHT node ids from one IP
 * address (one port per id, each answering every query as that id) flood
 * `peer dht` while 40 honest nodes join it. Before, the flood filled its
 * whole routing table, no honest node got in and a BEP 44 get between two
 * honest nodes found nothing (an eclipse: every lookup went through one
 * host). Now the flood address holds one place, every honest node is in
 * the table, a BEP 44 put/get between honest nodes works during the attack,
 * the process stays up within 50 MB of its baseline RSS, and it says so in
 * one warning line.
 *
 * Everything runs on loopback (127.0.0.x); `--loopback-nodes-per-address 1`
 * makes the node treat loopback like any other address (by default loopback
 * has no per-address limit, for the tests that run many nodes on 127.0.0.1).
 */
import test from 'ava';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { DhtNode } from '../src/dht/node.js';
import { decodeKrpc, encodeKrpc, type KrpcMessage, type KrpcQuery } from '../src/dht/krpc.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { startDht, type DhtProcess } from './dht-cli-helpers.js';
import { rssBytes, settledRss } from './helpers/proc.js';
import { tempDir } from './helpers/swarm.js';

const NODE_HOST = '127.0.0.5';
const FLOOD_HOST = '127.0.0.66';
const PROBE_HOST = '127.0.0.99';
const FLOOD_SOCKETS = 1280;
const FLOOD_IDS = 1280;
const HONEST = 40;
const MB = 1024 * 1024;

/** An id sharing exactly `bits` leading bits with `id` (so it falls in bucket `bits` of id's table), random after. */
function idSharing(id: Uint8Array, bits: number): Uint8Array {
  const out = randomBytes(20);
  for (let b = 0; b <= bits && b < 160; b++) {
    const mask = 0x80 >> (b & 7);
    const want = b === bits ? ~id[b >> 3]! & mask : id[b >> 3]! & mask;
    out[b >> 3] = (out[b >> 3]! & ~mask) | want;
  }
  return out;
}

/** One flooding socket: sends pings from its ids and answers every query (so it looks alive). */
class FloodSocket {
  readonly socket = dgram.createSocket('udp4');
  readonly ids: Uint8Array[] = [];
  #t = 0;
  constructor() {
    this.socket.on('message', (buf, rinfo) => {
      let m: KrpcMessage;
      try {
        m = decodeKrpc(buf);
      } catch {
        return;
      }
      if (m.y !== 'q') return;
      const reply = encodeKrpc({ y: 'r', t: m.t, response: { id: this.ids[0]!, nodes: [], token: Uint8Array.of(1, 2, 3, 4) } });
      this.socket.send(reply, rinfo.port, rinfo.address);
    });
  }
  async open(): Promise<void> {
    this.socket.bind(0, FLOOD_HOST);
    await once(this.socket, 'listening');
  }
  sendAll(port: number): void {
    for (const id of this.ids) {
      const t = Uint8Array.of(this.#t >> 8, this.#t++ & 0xff);
      this.socket.send(encodeKrpc({ y: 'q', t, query: { q: 'ping', id } }), port, NODE_HOST);
    }
  }
  close(): void {
    this.socket.close();
  }
}

/** A read-only (BEP 43) prober, so it never enters the table it looks at. */
class Probe {
  readonly socket = dgram.createSocket('udp4');
  readonly id = randomBytes(20);
  #t = 0;
  readonly #waiters = new Map<string, (m: KrpcMessage) => void>();
  constructor(readonly port: number) {
    this.socket.on('message', (buf) => {
      try {
        const m = decodeKrpc(buf);
        this.#waiters.get(toHex(m.t))?.(m);
      } catch {
        // only the node under test talks to us
      }
    });
  }
  async open(): Promise<void> {
    this.socket.bind(0, PROBE_HOST);
    await once(this.socket, 'listening');
  }
  ask(query: KrpcQuery, waitMs = 3000): Promise<KrpcMessage | undefined> {
    const t = Uint8Array.of(this.#t >> 8, this.#t++ & 0xff);
    return new Promise((resolve) => {
      const key = toHex(t);
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        resolve(undefined);
      }, waitMs);
      this.#waiters.set(key, (m) => {
        clearTimeout(timer);
        this.#waiters.delete(key);
        resolve(m);
      });
      this.socket.send(encodeKrpc({ y: 'q', t, query, readOnly: true }), this.port, NODE_HOST);
    });
  }
  /** find_node, asked again when the answer is lost (the flood fills the node's receive buffer). */
  async findNode(target: Uint8Array): Promise<{ id: Uint8Array; host: string; port: number }[]> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.ask({ q: 'find_node', id: this.id, target }, 1500);
      if (r?.y === 'r') return r.response.nodes ?? [];
    }
    throw new Error('the node did not answer find_node 5 times in a row');
  }
  close(): void {
    this.socket.close();
  }
}

test('1,280 node ids from one IP do not take the routing table: 40 honest nodes get in, KV works, RSS and one warning', async (t) => {
  const state = await tempDir(t, 'dht-flood-');
  const dht: DhtProcess = await startDht(['--host', NODE_HOST, '--state', state, '--loopback-nodes-per-address', '1']);
  t.teardown(() => dht.stop());
  const pid = dht.child.pid!;
  const nodeId = fromHex(dht.nodeId);
  const baseline = await settledRss(pid, 2000);

  // The flood: 8 ids aimed at each of the 160 buckets around the node's id, one port each (so every ping is answered as the pinged id).
  const flood = Array.from({ length: FLOOD_SOCKETS }, () => new FloodSocket());
  await Promise.all(flood.map((f) => f.open()));
  const floodIdList = Array.from({ length: FLOOD_IDS }, (_, i) => idSharing(nodeId, Math.floor(i / 8)));
  floodIdList.forEach((id, i) => flood[i % FLOOD_SOCKETS]!.ids.push(id));
  const floodIds = new Set(floodIdList.map(toHex));
  let rounds = 0;
  const sendRound = (): void => {
    rounds++;
    for (const f of flood) f.sendAll(dht.port);
  };
  sendRound();
  const floodTimer = setInterval(sendRound, 500);
  let flooding = true;
  const stopFlood = (): void => {
    if (!flooding) return;
    flooding = false;
    clearInterval(floodTimer);
    for (const f of flood) f.close();
  };
  t.teardown(stopFlood);
  await new Promise((r) => setTimeout(r, 3000));

  // 40 honest nodes join through it while the flood goes on: 5 ids in each of its buckets 0-7.
  const honest: DhtNode[] = [];
  t.teardown(() => Promise.all(honest.map((n) => n.stop())));
  for (let i = 0; i < HONEST; i++) {
    honest.push(
      new DhtNode({ host: `127.0.0.${10 + i}`, port: 0, nodeId: idSharing(nodeId, Math.floor(i / 5)), bootstrap: [{ host: NODE_HOST, port: dht.port }], logger: silentLogger, settings: { dhtQueryTimeoutMs: 1000 } }),
    );
  }
  for (let i = 0; i < HONEST; i += 10) {
    await Promise.all(honest.slice(i, i + 10).map(async (n) => {
      await n.start();
      await n.ready({ signal: AbortSignal.timeout(30_000) });
      // Its join query may be lost in the flood (UDP): a real node tries again later; here, at once.
      for (let attempt = 0; n.stats().nodes === 0 && attempt < 10; attempt++) await n.ping({ host: NODE_HOST, port: dht.port }).catch(() => undefined);
    }));
  }
  await new Promise((r) => setTimeout(r, 1500));

  // An honest peer is served during the attack: a BEP 44 item put by one honest node is got by another.
  const put = await honest[3]!.putImmutable(utf8('served during a flood'), { republish: false });
  t.true(put.stored >= 1, `stored on ${put.stored} nodes`);
  const got = await honest[37]!.get(put.target);
  t.is(got && new TextDecoder().decode(got.vRaw), '21:served during a flood');

  // What the node's table holds, seen through find_node: each honest id is its own closest node,
  // and across the flood's targets the flood address shows up with at most one id.
  const probe = new Probe(dht.port);
  await probe.open();
  t.teardown(() => probe.close());
  let honestIn = 0;
  for (const n of honest) {
    const nodes = await probe.findNode(n.nodeId);
    if (nodes[0] && toHex(nodes[0].id) === toHex(n.nodeId) && nodes[0].host === n.address.host) honestIn++;
    else t.log(`not in the table: ${n.address.host}:${n.address.port} (closest: ${nodes[0]?.host}:${nodes[0]?.port})`);
  }
  const floodSeen = new Set<string>();
  const hostsSeen = new Set<string>();
  for (let bucket = 0; bucket < 160; bucket++) {
    for (const n of await probe.findNode(floodIdList[bucket * 8]!)) {
      hostsSeen.add(n.host);
      if (n.host === FLOOD_HOST) floodSeen.add(toHex(n.id));
    }
  }
  t.log(`flood: ${rounds} rounds of ${FLOOD_IDS} pings from ${FLOOD_HOST} (${FLOOD_SOCKETS} ports); honest nodes in the table: ${honestIn}/${HONEST}; flood ids in replies: ${floodSeen.size}`);
  t.is(honestIn, HONEST, 'every honest node is in the routing table');
  t.true(floodSeen.size <= 1, `flood ids in the table: ${floodSeen.size}`);
  t.true([...floodSeen].every((id) => floodIds.has(id)));
  t.true(hostsSeen.size >= HONEST, `${hostsSeen.size} addresses in find_node replies`);

  // After the attack: alive, serving, memory back near its baseline, and one clear line about it.
  const during = await rssBytes(pid);
  stopFlood();
  const after = await settledRss(pid, 3000);
  t.log(`RSS: baseline ${(baseline / MB).toFixed(1)} MB, during ${(during / MB).toFixed(1)} MB, after ${(after / MB).toFixed(1)} MB`);
  t.true(after - baseline < 50 * MB, `RSS grew by ${((after - baseline) / MB).toFixed(1)} MB`);
  t.is(dht.child.exitCode, null, 'still running');
  const pong = await probe.ask({ q: 'ping', id: probe.id });
  t.is(pong?.y, 'r');
  const stderrLines = dht.stderr().split('\n').filter((l) => l.trim() !== '');
  const warnings = stderrLines.filter((l) => l.includes(FLOOD_HOST));
  t.log(warnings.join('\n'));
  t.is(warnings.length, 1, dht.stderr());
  t.regex(warnings[0]!, /refusing node ids from 127\.0\.0\.66 .*per IP address/);
  t.true(stderrLines.length <= 5, dht.stderr());
  t.is(await dht.stop(), 0);
});
