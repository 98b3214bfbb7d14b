/**
 * `peer dht [common]`: a DHT node alone, e.g. a LAN's bootstrap node. Runs
 * until SIGINT/SIGTERM, then saves its routing table in --state and exits 0.
 * With --json: {"event":"listening","host","port","nodeId"}, then
 * {"event":"ready","nodes"} once joined, {"event":"stats",...} every minute
 * and {"event":"stopped"}. Unless --no-lsd (or on a loopback --host), the
 * node is announced on the LAN over LSD (BEP 14) and adds the LAN's other
 * nodes it hears there (src/discovery/lsd-dht.ts): no --bootstrap needed.
 *
 * --loopback-nodes-per-address N: routing-table nodes allowed per loopback
 * address (settings.dhtMaxNodesPerLoopbackAddress; default no limit, since
 * local tests run many nodes on 127.0.0.1). 1 treats loopback like any
 * other address, e.g. to try the flood protection on one machine.
 */
import { Command } from 'commander';
import { addCommonOptions, checkHostResolves, parseCommonOptions, printJson, refuseInapplicable } from './common.js';
import { stopSignal } from './signals.js';
import { hostWords, listenError } from '../util/listen-errors.js';
import { UsageError } from '../errors.js';
import { getLogger } from '../log.js';
import { announceDhtNodeOnLan } from '../discovery/lsd-dht.js';

const STATS_INTERVAL_MS = 60_000;

export function registerDht(program: Command): void {
  const cmd = program
    .command('dht')
    .description('run a DHT node alone (BEP 5 + BEP 44), e.g. as a LAN bootstrap node')
    .option('--loopback-nodes-per-address <n>', 'routing-table nodes per loopback address (default: no limit; 1 = as for any address)');
  addCommonOptions(cmd, {
    hide: ['api', 'peer', 'dht'],
    jsonHelp: 'JSON lines on stdout: listening, ready, stats (every minute), stopped',
    examples: [
      'peer dht --port 6881                                  # a LAN\'s bootstrap node: others give --bootstrap THIS_HOST:6881',
      'peer dht --port 6881 --bootstrap 192.168.1.10:6881 --tracker   # joins another node, and runs a tracker too',
    ],
  }).action(async (raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw as never);
    if (!common.dht) throw new UsageError('peer dht: --no-dht leaves nothing to run');
    refuseInapplicable(common, 'peer dht', ['api', 'peer']);
    const loopback = raw.loopbackNodesPerAddress;
    if (loopback !== undefined && !/^\d{1,6}$/.test(String(loopback))) throw new UsageError(`--loopback-nodes-per-address: not a count: ${String(loopback)}`);
    const s = loopback === undefined ? common.settings : { ...common.settings, dhtMaxNodesPerLoopbackAddress: Number(loopback) };
    await checkHostResolves(s.host);
    // Listening before binding: a Ctrl-C while starting still stops cleanly (exit 0).
    const stopped = stopSignal();
    // Loaded here, not at start-up: every other command starts without them.
    const [{ TrackerServer }, { DhtNode }] = await Promise.all([import('../tracker/server.js'), import('../dht/node.js')]);
    // --tracker: a LAN's bootstrap node can be its tracker too.
    const tracker = common.tracker !== undefined ? new TrackerServer({ host: s.host, port: common.tracker, logger: getLogger('tracker') }) : undefined;
    const node = new DhtNode({ host: s.host, port: s.port, bootstrap: common.bootstrap, stateDir: common.stateDir, settings: s, logger: getLogger('dht') });
    node.on('dht:ready', ({ nodes }) => {
      if (common.json) printJson({ event: 'ready', nodes });
      else process.stderr.write(`DHT joined: ${nodes} nodes known\n`);
    });
    try {
      await node.start();
    } catch (err) {
      throw listenError(err, { what: `DHT UDP port ${s.port} on ${hostWords(s.host)}`, fix: 'choose another with --port', host: `--host ${s.host}` });
    }
    try {
      await tracker?.start();
    } catch (err) {
      await node.stop();
      throw listenError(err, { what: `tracker port ${common.tracker} on ${hostWords(s.host)}`, fix: 'choose another with --tracker PORT' });
    }
    const lsd = common.lsd ? await announceDhtNodeOnLan(node, { host: s.host, settings: s, logger: getLogger('lsd') }) : undefined;
    if (tracker && !common.json) process.stderr.write(`tracker: ${tracker.announceUrl} (HTTP and UDP)\n`);
    const a = node.address;
    if (common.json) printJson({ event: 'listening', host: a.host, port: a.port, nodeId: node.stats().nodeId });
    else process.stderr.write(`DHT node ${node.stats().nodeId} listening on ${a.host}:${a.port} (UDP)\n`);
    const stats = setInterval(() => {
      if (common.json) printJson({ event: 'stats', ...node.stats() });
    }, STATS_INTERVAL_MS);
    await stopped;
    clearInterval(stats);
    await lsd?.stop();
    await tracker?.stop();
    await node.stop();
    if (common.json) printJson({ event: 'stopped' });
    else process.stderr.write('DHT node stopped\n');
  });
}
