/**
 * `peer tracker [--host ADDR] [--port N] [--allow FILE] [--json] [--log-level L]`:
 * the HTTP + UDP tracker alone, until SIGINT or SIGTERM (then exit 0).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { UsageError, errorMessage } from '../errors.js';
import { getLogger, LOG_LEVELS, setLogLevel, type LogLevel } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { checkHostResolves, examplesText, printJson } from './common.js';
import { parsePort } from './parse.js';
import { hostWords, listenError } from '../util/listen-errors.js';
import { stopSignal } from './signals.js';

interface TrackerFlags {
  host: string;
  port: string;
  allow?: string;
  json?: boolean;
  logLevel: LogLevel;
}

/**
 * An allow-list file: one info-hash per line as 40 hex digits; blank lines
 * and `#` comments are ignored. Any other line is a usage error (exit 2),
 * so a typo never silently opens or closes the tracker.
 */
export function readAllowList(file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--allow: cannot read ${file}: ${errorMessage(err)}`);
  }
  const out = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    if (!/^[0-9a-fA-F]{40}$/.test(line)) throw new UsageError(`--allow: ${file} line ${i + 1}: not a 40-hex-digit info-hash`);
    out.add(line.toLowerCase());
  });
  return out;
}

export function registerTracker(program: Command): void {
  program
    .command('tracker')
    .description('run an HTTP and UDP (BEP 15) tracker on one port')
    .option('--host <addr>', 'address to listen on', DEFAULT_SETTINGS.host)
    .option('--port <n>', 'HTTP and UDP port', String(DEFAULT_SETTINGS.trackerPort))
    .option('--allow <file>', 'serve only the info-hashes listed in FILE (40 hex digits per line)')
    .option('--json', 'JSON lines on stdout: {"event":"listening","host","port","announce","udp","allowList"}, and "stopped" with its counts')
    .addOption(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS as string[]).default('warn'))
    .addHelpText(
      'after',
      examplesText([
        'peer tracker                          # http://THIS_HOST:6969/announce and udp://THIS_HOST:6969/announce',
        'peer tracker --host 192.168.1.10 --port 7000 --allow hashes.txt',
      ]),
    )
    .action(async (flags: TrackerFlags) => {
      setLogLevel(flags.logLevel);
      if (!/^[\w.:-]+$/.test(flags.host)) throw new UsageError(`--host: not an address: ${flags.host}`);
      const port = parsePort(flags.port);
      await checkHostResolves(flags.host);
      const allowList = flags.allow !== undefined ? readAllowList(flags.allow) : undefined;
      const { TrackerServer } = await import('../tracker/server.js');
      const server = new TrackerServer({
        host: flags.host,
        port,
        allowList,
        intervalS: DEFAULT_SETTINGS.trackerIntervalS,
        maxNumwant: DEFAULT_SETTINGS.trackerMaxNumwant,
        logger: getLogger('tracker'),
      });
      // Listen for Ctrl-C before binding, so an early one still stops cleanly (exit 0).
      const stopRequested = stopSignal();
      try {
        await server.start();
      } catch (err) {
        // As `seed --tracker`: a port someone holds, or a host not of this machine, is bad input (exit 2) naming the fix.
        throw listenError(err, { what: `tracker port ${port} on ${hostWords(flags.host)}`, fix: 'choose another with --port, or stop the program that holds it', host: `--host ${flags.host}` });
      }
      const info = {
        event: 'listening',
        host: flags.host,
        port: server.port,
        announce: server.announceUrl,
        udp: server.udpAnnounceUrl,
        allowList: allowList?.size ?? null,
      };
      if (flags.json) printJson(info);
      else {
        process.stdout.write(`tracker listening on ${flags.host}:${server.port} (HTTP and UDP)\n`);
        process.stdout.write(`  announce: ${server.announceUrl}\n  udp:      ${server.udpAnnounceUrl}\n`);
        if (allowList) process.stdout.write(`  serving only ${allowList.size} allowed info-hash(es)\n`);
      }
      await stopRequested;
      await server.stop();
      if (flags.json) printJson({ event: 'stopped', ...server.registry.stats() });
      else process.stdout.write('tracker stopped\n');
    });
}
