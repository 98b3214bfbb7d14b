import test from 'ava';
import { PeerList, type ConnectedPeer } from '../src/session/peer-list.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { fakeClock } from '../src/util/clock.js';

function list(overrides: Partial<typeof DEFAULT_SETTINGS> = {}, local?: string) {
  const clock = fakeClock(1_000_000);
  const peers = new PeerList({ settings: { ...DEFAULT_SETTINGS, ...overrides }, clock, listenPort: 6881, ...(local ? { localAddress: local } : {}) });
  return { clock, peers };
}
const open = { banned: () => false, canConnect: () => true };
const keys = (ps: { key: string }[]): string[] => ps.map((p) => p.key);

test('adds valid addresses once, never ourselves, at most maxKnownPeers', (t) => {
  const { peers } = list({ maxKnownPeers: 3 });
  peers.add([
    { host: '10.0.0.1', port: 1 },
    { host: '10.0.0.1', port: 1 },
    { host: '10.0.0.2', port: 0 },
    { host: '10.0.0.2', port: 70000 },
    { host: '127.0.0.1', port: 6881 }, // ourselves (no --host given)
    { host: '10.0.0.3', port: 3 },
    { host: '10.0.0.4', port: 4 },
    { host: '10.0.0.5', port: 5 },
  ]);
  t.is(peers.size, 3);
  t.deepEqual(keys(peers.toDial(10, [], open)), ['10.0.0.1:1', '10.0.0.3:3', '10.0.0.4:4']);
  const withHost = list({}, '10.1.1.1').peers;
  withHost.add([{ host: '10.1.1.1', port: 6881 }, { host: '127.0.0.1', port: 6881 }]);
  t.deepEqual(keys(withHost.toDial(10, [], open)), ['127.0.0.1:6881']);
});

test('failed attempts back off exponentially up to the cap; a learned peer is forgotten after maxConnectFailures', (t) => {
  const { clock, peers } = list();
  peers.add([{ host: '10.0.0.1', port: 1 }]);
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [p] = peers.toDial(1, [], open);
    t.truthy(p, `attempt ${i + 1}`);
    peers.dialing(p!)();
    t.deepEqual(peers.toDial(1, [], open), [], 'not dialled twice at once');
    t.true(peers.dialFailed(p!));
    t.false(peers.dialFailed(p!), 'a second failure report of the same attempt is ignored');
    delays.push(p!.nextTryAt - clock());
    clock.advance(delays[i]! - 1);
    t.deepEqual(peers.toDial(1, [], open), [], 'still backing off');
    clock.advance(1);
  }
  t.deepEqual(delays, [2000, 4000, 8000, 16000]);
  const [p] = peers.toDial(1, [], open);
  peers.dialing(p!)();
  peers.dialFailed(p!);
  t.is(peers.size, 0, 'forgotten after 5 failures');
});

test('a pinned peer is retried forever with the backoff capped at connectRetryMaxMs', (t) => {
  const { clock, peers } = list();
  peers.add([{ host: '10.0.0.1', port: 1 }]);
  peers.add([{ host: '10.0.0.1', port: 1 }], { pinned: true }); // given again as --peer: pinned
  for (let i = 0; i < 12; i++) {
    const [p] = peers.toDial(1, [], open);
    t.truthy(p);
    peers.dialing(p!)();
    peers.dialFailed(p!);
    clock.advance(p!.nextTryAt - clock());
  }
  t.is(peers.size, 1);
  t.is(peers.get('10.0.0.1:1')!.nextTryAt - clock(), 0);
  const p = peers.get('10.0.0.1:1')!;
  peers.dialing(p)();
  peers.dialFailed(p);
  t.is(p.nextTryAt - clock(), 60_000);
});

test('a closed connection is dialled again after the reconnect delay; a handshake forgives failures; resetBackoff dials at once', (t) => {
  const { clock, peers } = list();
  peers.add([{ host: '10.0.0.1', port: 1 }]);
  peers.add([{ host: '10.0.0.2', port: 2 }], { pinned: true });
  for (const p of peers.toDial(2, [], open)) {
    peers.dialing(p)();
    peers.dialFailed(p);
  }
  clock.advance(2000);
  const dial = peers.toDial(2, [], open);
  t.is(dial.length, 2);
  dial.forEach((p, i) => {
    const done = peers.dialing(p);
    peers.dialConnected(p);
    done();
    done(); // idempotent
    peers.attached(p, i + 1);
    peers.handshaken(p);
  });
  t.deepEqual(peers.toDial(2, [], open), [], 'connected peers are not dialled');
  t.is(peers.get('10.0.0.1:1')!.failures, 0);
  for (const p of dial) peers.closed(p);
  clock.advance(5000);
  t.deepEqual(keys(peers.toDial(2, [], open)), ['10.0.0.2:2'], 'pinned: 5 s');
  clock.advance(25_000);
  t.deepEqual(keys(peers.toDial(2, [], open)), ['10.0.0.1:1', '10.0.0.2:2'], 'learned: 30 s');
  for (const p of dial) peers.closed(p);
  peers.resetBackoff();
  t.is(peers.toDial(2, [], open).length, 2);
});

test('per-address limits count connections and attempts; loopback gets its own limit; slots, bans and the global limit apply', (t) => {
  const { peers } = list({ maxConnectionsPerAddress: 1, maxConnectionsPerLoopbackAddress: 2 });
  peers.add([1, 2, 3].map((port) => ({ host: '10.0.0.1', port })));
  peers.add([1, 2, 3].map((port) => ({ host: '127.0.0.2', port })));
  peers.add([{ host: '10.0.0.9', port: 9 }]);
  t.deepEqual(keys(peers.toDial(10, [], open)), ['10.0.0.1:1', '127.0.0.2:1', '127.0.0.2:2', '10.0.0.9:9']);
  t.deepEqual(keys(peers.toDial(10, [{ remoteHost: '10.0.0.1' }, { remoteHost: '127.0.0.2' }], open)), ['127.0.0.2:1', '10.0.0.9:9']);
  const attempt = peers.dialing(peers.get('10.0.0.9:9')!);
  t.is(peers.connectionsWith('10.0.0.9', []), 1);
  t.is(peers.connectionsWith('10.0.0.1', [{ remoteHost: '10.0.0.1' }, { remoteHost: '10.0.0.2' }]), 1);
  attempt();
  t.is(peers.connectionsWith('10.0.0.9', []), 0);
  t.deepEqual(keys(peers.toDial(2, [], open)), ['10.0.0.1:1', '127.0.0.2:1']);
  t.deepEqual(keys(peers.toDial(10, [], { ...open, banned: (h) => h !== '10.0.0.1' })), ['10.0.0.1:1']);
  let budget = 1;
  t.is(peers.toDial(10, [], { ...open, canConnect: () => budget-- > 0 }).length, 1);
  t.is(peers.addressLimit('::1'), 2);
  t.is(peers.addressLimit('10.0.0.1'), 1);
});

test('eviction picks the peer useless longest, one we want nothing from first, and spares those in their grace period or waiting for data', (t) => {
  const { clock, peers } = list({ evictionGraceMs: 10_000 });
  const now = clock();
  const peer = (o: Partial<ConnectedPeer> & { name: string }) => ({
    remoteHost: o.name,
    handshaken: true,
    connectedAt: now - 60_000,
    lastPayloadAt: 0,
    peerInterested: false,
    amChoking: true,
    amInterested: false,
    ...o,
  });
  const fresh = peer({ name: 'fresh', connectedAt: now - 1000 });
  const waiting = peer({ name: 'waiting', peerInterested: true });
  const useful = peer({ name: 'useful', lastPayloadAt: now - 2000 });
  const wanted = peer({ name: 'wanted', amInterested: true });
  const idle = peer({ name: 'idle', lastPayloadAt: now - 20_000 });
  t.is(peers.evictionVictim([fresh, waiting, useful])?.remoteHost, undefined);
  t.is(peers.evictionVictim([fresh, waiting, useful, wanted, idle])?.remoteHost, 'idle', 'not wanted beats idle longer');
  t.is(peers.evictionVictim([wanted, useful])?.remoteHost, 'wanted');
  t.is(peers.uselessFor(peer({ name: 'x', handshaken: false, connectedAt: now - 3000 })), 3000);
  t.is(peers.uselessFor(waiting), 0);
});
