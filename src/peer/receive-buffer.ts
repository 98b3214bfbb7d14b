/**
 * One receive buffer for every outgoing peer socket of the process. Node
 * reads into it (`net.connect({ onread })`) instead of allocating a fresh
 * buffer per read: at hundreds of MB/s those buffers cost more in page
 * faults and garbage collection than the protocol work. Safe to share
 * because each read is consumed synchronously (`PeerConnection.receive`
 * copies whatever it keeps) before Node reads the next one.
 */
import type { NetConnectOpts, Socket } from 'node:net';
import { connect } from 'node:net';

/** Not a setting: one buffer serves every connection of the process, whatever each torrent's settings say. */
const RECEIVE_BUFFER_BYTES = 256 * 1024;
let shared: Buffer | undefined;

/**
 * Opens a TCP connection whose reads go to `sink` (set it before the socket
 * connects; reads that arrive without a sink close the socket). The socket
 * emits no 'data' events.
 */
export function connectWithSharedBuffer(opts: NetConnectOpts): { socket: Socket; setSink(sink: (chunk: Uint8Array) => void): void } {
  shared ??= Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
  let sink: ((chunk: Uint8Array) => void) | undefined;
  const socket = connect({
    ...opts,
    onread: {
      buffer: shared,
      callback: (n: number, buf: Uint8Array): boolean => {
        if (sink) sink(buf.subarray(0, n));
        else socket.destroy();
        return true;
      },
    },
  });
  return { socket, setSink: (s) => void (sink = s) };
}
