/**
 * The KRPC transport: one UDP socket bound to `--host`, transaction ids,
 * per-query timeouts, and the first line of defence against hostile
 * datagrams. This is the only file of src/dht/ that owns a socket.
 *
 * Responses are matched by transaction id AND source address, so a third
 * party cannot answer for the node we asked. Garbage is dropped; a malformed
 * query gets the BEP error code back (203/204) when its transaction id could
 * be read. Nothing a remote sends can throw out of here.
 */
import dgram from 'node:dgram';
import { setMaxListeners } from 'node:events';
import { DhtError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../util/peer-address.js';
import { toHex } from '../util/bytes.js';
import { decodeKrpc, encodeKrpc, KrpcDecodeError, type KrpcQuery, type KrpcResponse, type NodeInfo } from './krpc.js';

/** Why a query got no usable answer. `error`: the node answered with a KRPC error, so it is alive. */
export class QueryFailure extends DhtError {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'error' | 'aborted' | 'send',
    krpcCode = 201,
  ) {
    super(message, krpcCode);
  }
}

export interface IncomingQuery {
  t: Uint8Array;
  query: KrpcQuery;
  readOnly: boolean;
  from: PeerAddress;
}

interface Pending {
  to: PeerAddress;
  resolve: (r: KrpcResponse) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

export interface RpcStats {
  queriesSent: number;
  queriesReceived: number;
  timeouts: number;
  refused: number;
}

/** Signals whose listener limit is lifted already (queries add one abort listener each while in flight). */
const unlimited = new WeakSet<AbortSignal>();

export class KrpcSocket {
  #socket: dgram.Socket | undefined;
  #address: PeerAddress;
  readonly #pending = new Map<string, Pending>();
  #nextT = Math.floor(Math.random() * 0x10000);
  #lastWarnAt = 0;
  readonly stats: RpcStats = { queriesSent: 0, queriesReceived: 0, timeouts: 0, refused: 0 };

  constructor(
    private readonly opts: { host: string; port: number; logger: Logger; queryTimeoutMs: number; /** Nodes of the other family a response named (BEP 32): for the sibling node. */ onOtherFamily?: (nodes: NodeInfo[]) => void },
    private readonly onQuery: (q: IncomingQuery) => void,
  ) {
    this.#address = { host: opts.host, port: opts.port };
  }

  get address(): PeerAddress {
    return this.#address;
  }

  get bound(): boolean {
    return this.#socket !== undefined;
  }

  /** 6 for a socket on an IPv6 address (BEP 32: its own routing table and `nodes6`), else 4. `::` here means IPv6's wildcard. */
  get family(): 4 | 6 {
    return this.opts.host.includes(':') ? 6 : 4;
  }

  async bind(): Promise<void> {
    if (this.#socket) return;
    // IPv6 sockets are IPv6 only: an IPv4 node beside it has its own socket and table (BEP 32).
    const socket = this.family === 6 ? dgram.createSocket({ type: 'udp6', reuseAddr: false, ipv6Only: true }) : dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port, this.opts.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.opts.logger.warn(`UDP socket error: ${err.message}`));
    socket.on('message', (buf, rinfo) => this.#onMessage(buf, { host: rinfo.address, port: rinfo.port }));
    const a = socket.address();
    this.#address = { host: a.address, port: a.port };
    this.#socket = socket;
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = undefined;
    for (const p of [...this.#pending.values()]) {
      p.cleanup();
      p.reject(new QueryFailure('DHT node stopped', 'aborted'));
    }
    this.#pending.clear();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /** Logs remote misbehaviour at warn, at most once a second (a flood must not flood the log). */
  #warn(msg: string): void {
    const now = Date.now();
    if (now - this.#lastWarnAt >= 1000) {
      this.#lastWarnAt = now;
      this.opts.logger.warn(msg);
    } else this.opts.logger.debug(msg);
  }

  #send(to: PeerAddress, bytes: Uint8Array): void {
    // A node of the other family cannot be reached from this socket.
    if (to.host.includes(':') !== (this.family === 6)) return;
    this.#socket?.send(bytes, to.port, to.host, (err) => {
      if (err) this.opts.logger.debug(`send to ${to.host}:${to.port} failed: ${err.message}`);
    });
  }

  #onMessage(buf: Buffer, from: PeerAddress): void {
    let msg;
    try {
      msg = decodeKrpc(buf);
    } catch (err) {
      this.stats.refused++;
      if (err instanceof KrpcDecodeError) {
        this.#warn(`refused datagram from ${from.host}:${from.port}: ${err.message}`);
        if (err.query && err.t) this.sendError(from, err.t, err.krpcCode, err.message);
      } else this.#warn(`refused datagram from ${from.host}:${from.port}: ${String(err)}`);
      return;
    }
    switch (msg.y) {
      case 'q':
        this.stats.queriesReceived++;
        try {
          this.onQuery({ t: msg.t, query: msg.query, readOnly: msg.readOnly === true, from });
        } catch (err) {
          // A bug answering one query must not take the node down; tell the remote it was us.
          this.opts.logger.error(`handling ${msg.query.q} from ${from.host}:${from.port}: ${err instanceof Error ? err.stack : String(err)}`);
          this.sendError(from, msg.t, 202, 'server error');
        }
        return;
      case 'r':
      case 'e': {
        const key = toHex(msg.t);
        const p = this.#pending.get(key);
        if (!p || p.to.host !== from.host || p.to.port !== from.port) {
          this.opts.logger.debug(`unexpected ${msg.y === 'r' ? 'response' : 'error'} from ${from.host}:${from.port}`);
          return;
        }
        this.#pending.delete(key);
        p.cleanup();
        if (msg.y === 'r') p.resolve(this.#ownFamily(msg.response));
        else p.reject(new QueryFailure(`${from.host}:${from.port} answered error ${msg.code}: ${msg.message.slice(0, 200)}`, 'error', msg.code));
        return;
      }
    }
  }

  /** A response's nodes of this socket's family (BEP 32: `nodes` and `nodes6` both decode into `nodes`). */
  #ownFamily(r: KrpcResponse): KrpcResponse {
    if (!r.nodes) return r;
    const v6 = this.family === 6;
    const mine = r.nodes.filter((n) => n.host.includes(':') === v6);
    if (mine.length < r.nodes.length && this.opts.onOtherFamily) this.opts.onOtherFamily(r.nodes.filter((n) => n.host.includes(':') !== v6));
    return { ...r, nodes: mine };
  }

  #transactionId(): Uint8Array {
    for (;;) {
      this.#nextT = (this.#nextT + 1) & 0xffff;
      const t = Uint8Array.of(this.#nextT >> 8, this.#nextT & 0xff);
      if (!this.#pending.has(toHex(t))) return t;
    }
  }

  /** Sends a query and resolves with the response; rejects with a QueryFailure. */
  query(to: PeerAddress, query: KrpcQuery, opts: { signals?: (AbortSignal | undefined)[]; timeoutMs?: number; readOnly?: boolean } = {}): Promise<KrpcResponse> {
    if (!this.#socket) return Promise.reject(new QueryFailure('DHT node is not running', 'aborted'));
    // Several signals are watched directly rather than through AbortSignal.any: one query is too short-lived to create a combined signal for.
    const signals = (opts.signals ?? []).filter((s): s is AbortSignal => s !== undefined);
    if (signals.some((s) => s.aborted)) return Promise.reject(new QueryFailure('aborted', 'aborted'));
    const t = this.#transactionId();
    const key = toHex(t);
    const timeoutMs = opts.timeoutMs ?? this.opts.queryTimeoutMs;
    return new Promise<KrpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        cleanup();
        this.stats.timeouts++;
        reject(new QueryFailure(`${query.q} to ${to.host}:${to.port}: no answer in ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      const onAbort = (): void => {
        this.#pending.delete(key);
        cleanup();
        reject(new QueryFailure('aborted', 'aborted'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener('abort', onAbort);
      };
      for (const s of signals) {
        if (!unlimited.has(s)) {
          // Many queries at once under one caller's signal (an announce to k nodes beside its lookups) are normal:
          // without this, Node warns of a listener leak past 10 (seen on 69 of 100 LAN daemons).
          setMaxListeners(0, s);
          unlimited.add(s);
        }
        s.addEventListener('abort', onAbort, { once: true });
      }
      this.#pending.set(key, { to, resolve, reject, cleanup });
      this.stats.queriesSent++;
      this.#send(to, encodeKrpc({ y: 'q', t, query, ...(opts.readOnly ? { readOnly: true } : {}) }));
    });
  }

  respond(to: PeerAddress, t: Uint8Array, response: KrpcResponse): void {
    this.#send(to, encodeKrpc({ y: 'r', t, response }));
  }

  sendError(to: PeerAddress, t: Uint8Array, code: number, message: string): void {
    this.#send(to, encodeKrpc({ y: 'e', t, code, message: message.slice(0, 200) }));
  }
}
