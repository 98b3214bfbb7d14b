/**
 * PEX over both families from the session's side (src/session/extensions.ts):
 * each list of each family holds at most 50 peers per message (BEP 11), the
 * rest go in the next one, and IPv6 peers travel in added6/dropped6. And
 * the peer list those peers land in: one spelling per address, and no peers
 * of a family a --host address cannot reach.
 */
import test from 'ava';
import { ExtensionHub } from '../src/session/extensions.js';
import { EXTENDED_HANDSHAKE_ID, encodeExtendedHandshake, UT_PEX } from '../src/wire/extension.js';
import { decode, isDict } from '../src/bencode/index.js';
import { decodePex } from '../src/wire/ut-pex.js';
import { silentLogger } from '../src/log.js';
import type { PeerConnection } from '../src/peer/connection.js';
import type { Metainfo } from '../src/metainfo/types.js';
import { PeerList } from '../src/session/peer-list.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

test('sendPex: at most 50 added and 50 added6 per message, the rest next time; dropped6 for IPv6 peers that left', (t) => {
  let now = 1_000_000;
  const hub = new ExtensionHub({
    metainfo: { info: { private: false }, infoBytes: new Uint8Array(10) } as unknown as Metainfo,
    logger: silentLogger,
    listenPort: 6881,
    clientVersion: 'test',
    maxRemoteRequests: 10,
    limits: { pexIntervalMs: 60_000 },
    clock: () => now,
  });
  const sent: Uint8Array[] = [];
  const conn = { id: 1, closed: false, remoteHost: '::1', extended: (_id: number, payload: Uint8Array) => void sent.push(payload), remoteQueueLimit: 0 } as unknown as PeerConnection;
  hub.onMessage(conn, EXTENDED_HANDSHAKE_ID, encodeExtendedHandshake({ m: { [UT_PEX]: 7 } }));
  const swarm = new Map<number, { addr: { host: string; port: number }; seed: boolean; outgoing: boolean }>();
  for (let i = 0; i < 60; i++) {
    swarm.set(100 + i, { addr: { host: `10.0.${i}.1`, port: 6881 }, seed: false, outgoing: true });
    swarm.set(200 + i, { addr: { host: `fd77::${(i + 1).toString(16)}`, port: 6881 }, seed: i % 2 === 0, outgoing: false });
  }
  hub.sendPex([conn], swarm);
  t.is(sent.length, 1);
  const first = decodePex(sent[0]!);
  t.is(first.added.filter((p) => !p.host.includes(':')).length, 50);
  t.is(first.added.filter((p) => p.host.includes(':')).length, 50);
  const raw = decode(sent[0]!);
  t.true(isDict(raw) && (raw.added6 as Uint8Array).length === 50 * 18 && (raw['added6.f'] as Uint8Array).length === 50);

  now += 60_000;
  hub.sendPex([conn], swarm);
  const second = decodePex(sent[1]!);
  t.is(second.added.length, 20, 'the remaining 10 + 10');

  for (let i = 0; i < 5; i++) swarm.delete(200 + i);
  now += 60_000;
  hub.sendPex([conn], swarm);
  const third = decodePex(sent[2]!);
  t.deepEqual(third.added, []);
  t.deepEqual(third.dropped.map((p) => p.host).sort(), ['fd77::1', 'fd77::2', 'fd77::3', 'fd77::4', 'fd77::5']);
  const raw3 = decode(sent[2]!);
  t.true(isDict(raw3) && (raw3.dropped6 as Uint8Array).length === 5 * 18 && (raw3.dropped as Uint8Array).length === 0);
});

test('the peer list skips peers of the other family than a --host address, and spells IPv4-mapped peers as IPv4', (t) => {
  const settings = DEFAULT_SETTINGS;
  const known = (list: PeerList): string[] => list.toDial(100, [], { banned: () => false, canConnect: () => true }).map((p) => `${p.host}:${p.port}`);
  const v4 = new PeerList({ settings, listenPort: 6881, localAddress: '10.77.0.3' });
  v4.add([{ host: 'fd77::2', port: 1 }, { host: '10.77.0.2', port: 1 }, { host: '::ffff:10.77.0.4', port: 1 }, { host: 'peer.example', port: 1 }]);
  t.deepEqual(known(v4).sort(), ['10.77.0.2:1', '10.77.0.4:1', 'peer.example:1']);
  const v6 = new PeerList({ settings, listenPort: 6881, localAddress: '::1' });
  v6.add([{ host: '::1', port: 2 }, { host: '127.0.0.1', port: 2 }, { host: '::1', port: 6881 }]);
  t.deepEqual(known(v6), ['::1:2'], 'IPv4 skipped, ourselves skipped');
  const any = new PeerList({ settings, listenPort: 6881 });
  any.add([{ host: '::1', port: 2 }, { host: '127.0.0.1', port: 2 }, { host: '::1', port: 6881 }]);
  t.deepEqual(known(any).sort(), ['127.0.0.1:2', '::1:2'], 'no --host: both families; [::1]:6881 is ourselves');
});
