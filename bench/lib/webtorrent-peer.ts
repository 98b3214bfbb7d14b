/**
 * Benchmark child: one webtorrent@1.9.7 client, offline (TCP only, peers
 * added directly), seeding or leeching one torrent, each in its own process
 * so its CPU time and RSS are its own.
 *
 *   webtorrent-peer.js seed  <torrent> <dir>            prints {"event":"ready","port"}
 *   webtorrent-peer.js leech <torrent> <dir> <host:port> prints {"event":"complete","elapsedMs","downloaded"}
 *
 * The content is `<dir>/<name>`, as WebTorrent stores it. SIGTERM destroys the
 * client and exits 0. Lines on stdout are JSON; anything else goes to stderr.
 */
import { readFileSync } from 'node:fs';
import WebTorrent from 'webtorrent';
import { reportUsageOnExit } from './usage-report.js';

const OFFLINE = { dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false } as const;

const [mode, torrentPath, dir, peer] = process.argv.slice(2);
if ((mode !== 'seed' && mode !== 'leech') || !torrentPath || !dir || (mode === 'leech' && !peer)) {
  process.stderr.write('usage: webtorrent-peer.js seed|leech <torrent> <dir> [host:port]\n');
  process.exit(2);
}
reportUsageOnExit();

const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const client = new WebTorrent({ ...OFFLINE, torrentPort: 0 });
const quit = (code: number): void => client.destroy(() => process.exit(code));
client.on('error', (err: Error) => {
  say({ event: 'error', message: err.message });
  quit(1);
});
process.once('SIGTERM', () => quit(0));
process.once('SIGINT', () => quit(0));

const startedAt = Date.now();
const torrent = client.add(readFileSync(torrentPath), { path: dir });
torrent.on('error', (err: Error) => {
  say({ event: 'error', message: err.message });
  quit(1);
});
torrent.on('warning', (err: Error) => process.stderr.write(`warning: ${err.message}\n`));

if (mode === 'seed') {
  // WebTorrent verifies what is on disk, emits 'ready', and then 'done' at once when it has everything.
  torrent.once('done', () => {
    const announce = (): void => say({ event: 'ready', port: client.address()?.port, infoHash: torrent.infoHash });
    if (client.listening) announce();
    else client.once('listening', announce);
  });
  torrent.once('ready', () =>
    setImmediate(() => {
      if (torrent.done) return;
      say({ event: 'error', message: `seeder has ${(torrent.progress * 100).toFixed(1)}% of the data` });
      quit(1);
    }),
  );
} else {
  torrent.once('ready', () => torrent.addPeer(peer!));
  torrent.once('done', () => {
    say({ event: 'complete', infoHash: torrent.infoHash, elapsedMs: Date.now() - startedAt, downloaded: torrent.downloaded });
    quit(0);
  });
}
