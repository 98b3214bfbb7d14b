/**
 * A trivial BEP 15 "tracker" in Node (dgram, one socket): a connect gets id
 * 0, anything else a fixed 320-byte announce reply (50 peers' worth). It
 * does no work per announce, so it is the ceiling of any single-threaded
 * Node UDP tracker on this machine; `bench:tracker` prints it beside ours.
 * Prints {"port": N} once bound; runs until killed.
 */
import dgram from 'node:dgram';

const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
const reply = Buffer.alloc(20 + 50 * 6);
reply.writeUInt32BE(1, 0);
sock.on('message', (msg, rinfo) => {
  if (msg.length < 16) return;
  if (msg.readUInt32BE(8) === 0) {
    const c = Buffer.alloc(16);
    msg.copy(c, 4, 12, 16);
    sock.send(c, rinfo.port, rinfo.address);
    return;
  }
  const out = Buffer.allocUnsafe(reply.length);
  reply.copy(out);
  msg.copy(out, 4, 12, 16);
  sock.send(out, rinfo.port, rinfo.address);
});
sock.bind(0, process.argv[2] ?? '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: sock.address().port }) + '\n'));
