/**
 * Benchmark child: the floor of a transfer on this machine. The same bytes
 * take the same path as between two peers (read from the page cache, over
 * loopback TCP, SHA-1 of every piece, written to a new file), with no
 * protocol at all: the sender streams the file in piece-sized reads, the
 * receiver hashes and writes each piece as it fills. What a BitTorrent pair
 * reaches is measured against this.
 *
 *   floor-peer.js send <file> <host>                 prints {"event":"ready","port"}
 *   floor-peer.js recv <file-out> <host:port> <host>  prints {"event":"complete","elapsedMs"}
 */
import net from 'node:net';
import { open, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { reportUsageOnExit } from './usage-report.js';

const PIECE = 1024 * 1024;
/**
 * Each pwrite at most this: on this kernel (ext4 with large folios) a 1 MiB
 * write takes a 1 MiB page-cache folio, and on this VM the copy into such
 * fresh high-order folios often ran 5-10x slower (perf:
 * copy_folio_from_iter_atomic; probably pages the guest had reported free to
 * the host) than into the smaller folios of 128 KiB writes. The floor must
 * not pay what a pair need not.
 */
const WRITE_BYTES = 128 * 1024;
const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const [mode, path, a, b] = process.argv.slice(2);
reportUsageOnExit();
process.on('SIGTERM', () => process.exit(0));

if (mode === 'send' && path && a) {
  const fh = await open(path);
  const size = (await fh.stat()).size;
  const server = net.createServer((s) => {
    void (async () => {
      // Four buffers in turn: a buffer is read into again only after three later writes.
      const bufs = Array.from({ length: 4 }, () => Buffer.allocUnsafeSlow(PIECE));
      for (let off = 0, i = 0; off < size; off += PIECE, i++) {
        const buf = bufs[i % 4]!;
        const { bytesRead } = await fh.read(buf, 0, Math.min(PIECE, size - off), off);
        if (!s.write(buf.subarray(0, bytesRead))) await new Promise((r) => s.once('drain', r));
      }
      s.end();
    })();
  });
  server.listen(0, a, () => say({ event: 'ready', port: (server.address() as net.AddressInfo).port }));
} else if (mode === 'recv' && path && a && b) {
  const t0 = Date.now();
  const [host, port] = [a.slice(0, a.lastIndexOf(':')), Number(a.slice(a.lastIndexOf(':') + 1))];
  await rm(path, { force: true });
  const fh = await open(path, 'w');
  let piece: Buffer = Buffer.allocUnsafeSlow(PIECE);
  let fill = 0;
  let offset = 0;
  const spare: Buffer[] = [];
  const writes = new Set<Promise<void>>();
  const flush = (length: number): void => {
    createHash('sha1').update(piece.subarray(0, length)).digest();
    const full = piece;
    const at = offset;
    const w = (async () => {
      for (let o = 0; o < length; o += WRITE_BYTES) await fh.write(full, o, Math.min(WRITE_BYTES, length - o), at + o);
    })().then(() => {
      writes.delete(w);
      spare.push(full);
    });
    writes.add(w);
    offset += length;
    piece = spare.pop() ?? Buffer.allocUnsafeSlow(PIECE);
    fill = 0;
  };
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect({
      host,
      port,
      localAddress: b,
      onread: {
        buffer: Buffer.allocUnsafeSlow(256 * 1024),
        callback: (n: number, buf: Uint8Array): boolean => {
          for (let p = 0; p < n; ) {
            const k = Math.min(n - p, PIECE - fill);
            piece.set(buf.subarray(p, p + k), fill);
            fill += k;
            p += k;
            if (fill === PIECE) flush(PIECE);
          }
          return true;
        },
      },
    });
    sock.on('end', () => {
      if (fill > 0) flush(fill);
      resolve();
    });
    sock.on('error', reject);
  });
  await Promise.all(writes);
  await fh.close();
  say({ event: 'complete', elapsedMs: Date.now() - t0, downloaded: offset });
  process.exit(0);
} else {
  process.stderr.write('usage: floor-peer.js send <file> <host> | recv <file-out> <host:port> <host>\n');
  process.exit(2);
}
