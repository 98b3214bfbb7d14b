/** Builds the `peer` program: one `register*` per command file in src/cli/. */
import { Command } from 'commander';
import { examplesText } from './common.js';
import { registerMakeTorrent } from './make-torrent.js';
import { registerInfo } from './info.js';
import { registerTracker } from './tracker.js';
import { registerSeed } from './seed.js';
import { registerLeech } from './leech.js';
import { registerStart } from './start.js';
import { registerDht } from './dht.js';
import { registerKv } from './kv.js';
import { registerMessage } from './message.js';
import { registerShare } from './share.js';
import { registerFind } from './find.js';
import { registerFetch } from './fetch.js';

export function buildPeerProgram(): Command {
  const program = new Command('peer')
    .description('A BitTorrent swarm client: make and read torrents, seed, leech, run a tracker and a DHT key-value store')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `${examplesText(['peer make-torrent ./video.mkv -a http://192.168.1.10:6969/announce', 'peer seed torrents/video.mkv.torrent --data ./video.mkv --tracker', 'peer leech torrents/video.mkv.torrent', 'peer start'])}\nRun peer COMMAND --help for its options and more examples.`);
  // Commands are registered here, one line each, as they are implemented.
  registerTracker(program);
  registerMakeTorrent(program);
  registerInfo(program);
  registerSeed(program);
  registerLeech(program);
  registerStart(program);
  registerDht(program);
  registerKv(program);
  registerMessage(program);
  registerShare(program);
  registerFind(program);
  registerFetch(program);
  return program;
}
