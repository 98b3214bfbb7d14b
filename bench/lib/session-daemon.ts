/**
 * The daemon under test of bench/session.ts, as a child process so that its
 * RSS and CPU time are its own: a Daemon on a watch folder, no API, DHT or
 * trackers (what is measured is the session: listener, torrents, storage).
 *
 * argv: ROOT PORT EXPECTED. Prints JSON lines on stdout:
 *   {"event":"ready","ms","torrents"}  all EXPECTED torrents run and are complete
 *   {"event":"stopped","ms"}           after SIGTERM, once stop() resolved
 */
import path from 'node:path';
import { Daemon } from '../../src/session/daemon.js';
import { resolveSettings } from '../../src/settings.js';
import { getLogger, setLogLevel } from '../../src/log.js';

const [root, portArg, expectedArg] = process.argv.slice(2);
const expected = Number(expectedArg);
setLogLevel('warn');
const t0 = performance.now();
const daemon = new Daemon({
  settings: resolveSettings({ host: '127.0.0.1', port: Number(portArg), maxPeersTotal: 1000 }),
  stateDir: path.join(root!, 'state'),
  downloadsDir: path.join(root!, 'downloads'),
  torrentsDir: path.join(root!, 'torrents'),
  logger: getLogger('bench-daemon'),
  useTrackers: false,
  dht: false,
  settleMs: 0,
});
const out = (v: object): boolean => process.stdout.write(JSON.stringify(v) + '\n');
process.once('SIGTERM', () => {
  const s0 = performance.now();
  void daemon.stop().then(() => {
    out({ event: 'stopped', ms: Math.round(performance.now() - s0) });
    process.exit(0);
  });
});
await daemon.start();
const ready = (): boolean => {
  const ts = daemon.session.torrents;
  return ts.length >= expected && ts.every((t) => t.complete);
};
while (!ready()) await new Promise((r) => setTimeout(r, 20));
out({ event: 'ready', ms: Math.round(performance.now() - t0), torrents: daemon.session.torrents.length });
