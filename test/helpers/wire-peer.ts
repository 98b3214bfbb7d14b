/**
 * Peer wire actors built in the test process with the codec of src/wire/:
 * a raw client (hostile-frame tests), a lying seeder, and a gate proxy that
 * can hold a transfer half-way (so a test knows a download is in progress
 * without racing it).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { encodeHandshake, HandshakeReader, type Handshake } from '../../src/wire/handshake.js';
import { decodeMessage, encodeMessage, encodePieceHeader, type PeerMessage } from '../../src/wire/messages.js';
import { FrameDecoder, maxFrameBytesFor } from '../../src/wire/framer.js';
import { pieceSize, torrentShape, type TorrentShape } from '../../src/wire/validate.js';
import { Bitfield } from '../../src/util/bitfield.js';
import { within, WAIT_MS, type Teardown } from './swarm.js';
import { pollUntil } from './poll.js';

/** A peer id unique to each call (a second connection with the same id is closed as a duplicate). */
export function testPeerId(tag: string): Uint8Array {
  const id = Buffer.from(`-TT0001-${tag.slice(0, 4).padEnd(4, '-')}${randomBytes(4).toString('hex')}`, 'latin1');
  return new Uint8Array(id);
}

// --- raw client -----------------------------------------------------------------

export interface RawPeer {
  socket: net.Socket;
  /** The remote's handshake once read. */
  handshake(): Promise<Handshake>;
  /** Messages decoded after the handshake, in order. */
  readonly messages: PeerMessage[];
  /** First message (seen or future) matching `pred`, within `ms`. */
  waitMessage(pred: (m: PeerMessage) => boolean, what: string, ms?: number): Promise<PeerMessage>;
  write(bytes: Uint8Array): void;
  /** Resolves when the remote closed the connection (or it failed). */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  destroy(): void;
}

/**
 * Connects to `host:port` from `localAddress` and sends a valid handshake for
 * `infoHash` (unless `sendHandshake` is false). Destroyed in teardown.
 */
export async function connectRaw(
  t: Teardown,
  opts: { host: string; port: number; localAddress: string; infoHash: Uint8Array; shape: TorrentShape; sendHandshake?: boolean; fast?: boolean; extensionProtocol?: boolean },
): Promise<RawPeer> {
  const socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
  t.teardown(() => void socket.destroy());
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }),
    10_000,
    `a connection to ${opts.host}:${opts.port}`,
  );
  let isClosed = false;
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      isClosed = true;
      resolve();
    });
  });
  socket.on('error', () => undefined); // a reset is one way to be closed
  const messages: PeerMessage[] = [];
  const reader = new HandshakeReader();
  const decoder = new FrameDecoder({ maxFrameBytes: maxFrameBytesFor(opts.shape.pieceLength, opts.shape.pieceCount) });
  let remote: Handshake | undefined;
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    let rest: Uint8Array = chunk;
    if (!remote) {
      const r = reader.push(chunk);
      if (!r) return;
      remote = reader.handshake!;
      rest = r;
    }
    for (const f of decoder.push(Uint8Array.from(rest))) messages.push(decodeMessage(f));
    for (const w of [...waiters]) w();
  });
  const waitFor = <T>(check: () => T | undefined, what: string, ms: number): Promise<T> =>
    within(
      new Promise<T>((resolve, reject) => {
        const on = (): void => {
          const v = check();
          if (v !== undefined) {
            waiters.delete(on);
            resolve(v);
          }
        };
        waiters.add(on);
        void closed.then(() => {
          if (waiters.delete(on)) reject(new Error(`connection closed before ${what}`));
        });
        on();
      }),
      ms,
      what,
    );
  if (opts.sendHandshake !== false) socket.write(encodeHandshake({ infoHash: opts.infoHash, peerId: testPeerId('raw'), extensionProtocol: opts.extensionProtocol ?? false, fast: opts.fast ?? false }));
  return {
    socket,
    messages,
    handshake: () => waitFor(() => remote, 'the remote handshake', 15_000),
    waitMessage: (pred, what, ms = 15_000) => waitFor(() => messages.find(pred), what, ms),
    write: (bytes) => void socket.write(bytes),
    closed,
    isClosed: () => isClosed,
    destroy: () => void socket.destroy(),
  };
}

/**
 * Resolves once `host:port` answers a handshake for `infoHash`: the peer
 * listens and has the torrent added (a seeder verifies its data first).
 */
export async function waitPeerReady(t: Teardown, host: string, port: number, infoHash: Uint8Array, shape: TorrentShape, localAddress = '127.0.0.1', ms = WAIT_MS): Promise<void> {
  let last: unknown;
  await pollUntil(
    async () => {
      try {
        const raw = await connectRaw(t, { host, port, localAddress, infoHash, shape });
        try {
          await raw.handshake();
          return true;
        } finally {
          raw.destroy();
        }
      } catch (err) {
        last = err;
        return undefined;
      }
    },
    `peer ${host}:${port} to answer a handshake`,
    ms,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last attempt: ${String(last)}`);
  });
}

// --- a lying seeder -----------------------------------------------------------------

export interface Liar {
  host: string;
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Remote address of each accepted connection, in order. */
  readonly from: string[];
  /** Connections open right now. */
  open: number;
  /** Blocks of random bytes served. */
  blocksServed: number;
  close(): Promise<void>;
}

/**
 * A seeder that claims every piece and answers every request with random
 * bytes of the requested length (so each piece it serves fails its hash).
 * It speaks just enough of BEP 3: handshake, full bitfield, unchoke on
 * interested, piece for request. Closed in teardown.
 */
export async function startLiar(t: Teardown, opts: { host: string; port: number; infoHash: Uint8Array; shape: TorrentShape }): Promise<Liar> {
  const sockets = new Set<net.Socket>();
  const liar: Liar = {
    host: opts.host,
    port: opts.port,
    connections: 0,
    from: [],
    open: 0,
    blocksServed: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const full = new Bitfield(opts.shape.pieceCount);
  for (let i = 0; i < opts.shape.pieceCount; i++) full.set(i);
  const server = net.createServer((socket) => {
    liar.connections++;
    liar.from.push(socket.remoteAddress ?? '?');
    liar.open++;
    sockets.add(socket);
    socket.on('close', () => {
      liar.open--;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    const reader = new HandshakeReader();
    const decoder = new FrameDecoder({ maxFrameBytes: maxFrameBytesFor(opts.shape.pieceLength, opts.shape.pieceCount) });
    let shaken = false;
    socket.on('data', (chunk: Buffer) => {
      let rest: Uint8Array = chunk;
      try {
        if (!shaken) {
          const r = reader.push(chunk);
          if (!r) return;
          shaken = true;
          socket.write(encodeHandshake({ infoHash: opts.infoHash, peerId: testPeerId('liar'), extensionProtocol: false }));
          socket.write(encodeMessage({ type: 'bitfield', bytes: full.toBytes() }));
          rest = r;
        }
        for (const f of decoder.push(Uint8Array.from(rest))) {
          const m = decodeMessage(f);
          if (m.type === 'interested') socket.write(encodeMessage({ type: 'unchoke' }));
          else if (m.type === 'request') {
            socket.write(encodePieceHeader(m.index, m.begin, m.length));
            socket.write(randomBytes(m.length));
            liar.blocksServed++;
          }
        }
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => resolve());
  });
  t.teardown(() => liar.close());
  return liar;
}

// --- a gate proxy -------------------------------------------------------------------

export interface GateProxy {
  host: string;
  port: number;
  /** Bytes passed from the target to the client so far (all connections). */
  readonly forwarded: number;
  /** True once the budget is used up and a byte was held back. */
  readonly holding: boolean;
  /** Lets everything through from now on. */
  open(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on `host` (ephemeral port) to `target`. Bytes from the client
 * pass freely; bytes from the target pass until `budget` bytes went through,
 * then wait until `open()`. A leecher behind it stalls half-way with its
 * connection alive: a test can act "during the transfer" without racing it.
 * Outgoing connections are made from `host`, so the target sees it there.
 */
export async function startGateProxy(t: Teardown, opts: { host: string; target: { host: string; port: number }; budget: number }): Promise<GateProxy> {
  let budget = opts.budget;
  let forwarded = 0;
  let holding = false;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>();
  const flush = (p: { client: net.Socket; upstream: net.Socket; held: Buffer[] }): void => {
    while (p.held.length) {
      const chunk = p.held[0]!;
      const room = budget - forwarded;
      if (room <= 0) {
        holding = true;
        p.upstream.pause();
        return;
      }
      const n = Math.min(room, chunk.length);
      p.client.write(chunk.subarray(0, n));
      forwarded += n;
      if (n === chunk.length) p.held.shift();
      else p.held[0] = chunk.subarray(n);
    }
    p.upstream.resume();
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: opts.target.host, port: opts.target.port, localAddress: opts.host });
    const pair = { client, upstream, held: [] as Buffer[] };
    pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (c: Buffer) => upstream.write(c));
    upstream.on('data', (c: Buffer) => {
      pair.held.push(c);
      flush(pair);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: 0 }, () => resolve());
  });
  const proxy: GateProxy = {
    host: opts.host,
    port: (server.address() as net.AddressInfo).port,
    get forwarded() {
      return forwarded;
    },
    get holding() {
      return holding;
    },
    open() {
      budget = Infinity;
      holding = false;
      for (const p of pairs) flush(p);
    },
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.teardown(() => proxy.close());
  return proxy;
}

export { torrentShape, pieceSize };
