/**
 * The options shared by `seed`, `leech`, `start`, `dht` and `kv`
 * (../shared/DESIGN.md, "common"), and their mapping onto the settings table.
 */
import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { resolveSettings, DEFAULT_SETTINGS, type Settings } from '../settings.js';
import { UsageError } from '../errors.js';
import { collect, parseHostPort, parsePort } from './parse.js';
import { isIP } from 'node:net';
import { plainHost } from '../util/address.js';

/** Where resume data and the identity key live unless `--state` says otherwise. */
export const DEFAULT_STATE_DIR = process.env.PEER_STATE_DIR ?? join(homedir(), '.local', 'state', 'swarm-peer');

export interface CommonOptions {
  settings: Settings;
  /** True when `--port` was given (kv uses a free port otherwise). */
  portGiven: boolean;
  peers: { host: string; port: number }[];
  bootstrap: { host: string; port: number }[];
  dht: boolean;
  /** Local service discovery (BEP 14); true unless --no-lsd (also settings.lsdEnabled). */
  lsd: boolean;
  /** Embedded tracker port, or undefined when not asked for. */
  tracker?: number;
  /** API port, or undefined when not asked for. */
  api?: number;
  stateDir: string;
  json: boolean;
  /** --quiet: stderr carries only errors and the final line. */
  quiet: boolean;
  logLevel: LogLevel;
}

/** Common options a command accepts (to refuse them clearly) but that mean nothing there: kept out of its --help. */
export type HiddenCommonOption = 'peer' | 'dht' | 'tracker' | 'api';

export function addCommonOptions(cmd: Command, opts: { apiDefault?: boolean; hide?: readonly HiddenCommonOption[]; jsonHelp?: string; logLevel?: LogLevel; examples?: readonly string[] } = {}): Command {
  const hidden = new Set(opts.hide ?? []);
  const add = (o: Option, name?: HiddenCommonOption): void => void cmd.addOption(name && hidden.has(name) ? o.hideHelp() : o);
  add(new Option('--host <addr>', 'address to listen on and send from (TCP and UDP) (default: every address, IPv6 and IPv4 where available)'));
  add(new Option('--port <n>', `peer wire TCP port; the DHT uses the same UDP port (default ${DEFAULT_SETTINGS.port})`));
  // Repeatable: no default value, so --help shows none ("(default: [])" said nothing).
  add(new Option('--peer <host:port>', 'connect to this peer directly (repeatable)').argParser(collect), 'peer');
  add(new Option('--bootstrap <host:port>', 'DHT bootstrap node (repeatable)').argParser(collect));
  add(new Option('--no-dht', 'run no DHT node'), 'dht');
  add(new Option('--no-lsd', 'no local service discovery (BEP 14 multicast on the LAN of --host; on by default)'));
  add(new Option('--tracker [port]', `also run the embedded tracker (default port ${DEFAULT_SETTINGS.trackerPort})`), 'tracker');
  add(new Option('--api [port]', `HTTP API and dashboard on 127.0.0.1${opts.apiDefault ? ` (on by default, port ${DEFAULT_SETTINGS.apiPort})` : ` (default port ${DEFAULT_SETTINGS.apiPort})`}`), 'api');
  add(new Option('--state <dir>', `resume data and identity key (default ${DEFAULT_STATE_DIR})`));
  add(new Option('--json', opts.jsonHelp ?? 'newline-delimited JSON events on stdout'));
  add(new Option('--quiet', 'print only errors and the final line on stderr (no progress, no logs below error)'));
  // The default shown is the one the command uses (peer start logs its activity: info).
  add(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS as string[]).default(opts.logLevel ?? 'warn'));
  if (opts.examples?.length) cmd.addHelpText('after', examplesText(opts.examples));
  return cmd;
}

/** An "Examples:" block for the end of a command's --help. */
export function examplesText(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/**
 * The host when --host is not given: `::`, which the listener binds with both
 * stacks (IPv4 alone where the system has no IPv6) and the DHT treats as
 * every address of each family.
 */
export const DEFAULT_CLI_HOST = '::';

interface RawCommon {
  host?: string;
  port?: string;
  peer?: string[];
  bootstrap?: string[];
  dht: boolean;
  lsd?: boolean;
  tracker?: string | boolean;
  api?: string | boolean;
  state?: string;
  json?: boolean;
  quiet?: boolean;
  logLevel: LogLevel;
}

export function parseCommonOptions(raw: RawCommon, opts: { apiDefault?: boolean } = {}): CommonOptions {
  const host = parseHost(raw.host ?? DEFAULT_CLI_HOST);
  const quiet = raw.quiet === true;
  setLogLevel(quiet ? 'error' : raw.logLevel);
  const portGiven = raw.port !== undefined;
  const lsd = raw.lsd !== false;
  const settings = resolveSettings({ host, port: portGiven ? parsePort(raw.port!) : undefined, lsdEnabled: lsd });
  const tracker = raw.tracker === undefined || raw.tracker === false ? undefined : raw.tracker === true ? settings.trackerPort : parsePort(raw.tracker, '--tracker');
  let api: number | undefined;
  if (raw.api === undefined) api = opts.apiDefault ? settings.apiPort : undefined;
  else if (raw.api !== false) api = raw.api === true ? settings.apiPort : parsePort(raw.api, '--api');
  return {
    settings,
    portGiven,
    peers: (raw.peer ?? []).map((p) => parseHostPort(p, '--peer')),
    bootstrap: (raw.bootstrap ?? []).map((p) => parseHostPort(p, '--bootstrap')),
    dht: raw.dht,
    lsd,
    tracker,
    api,
    stateDir: raw.state ?? DEFAULT_STATE_DIR,
    json: raw.json === true,
    quiet,
    logLevel: quiet ? 'error' : raw.logLevel,
  };
}

/** An address for --host: IPv4, IPv6 (brackets dropped, `::ffff:a.b.c.d` as a.b.c.d) or a name. */
export function parseHost(value: string): string {
  const host = plainHost(value);
  if (!/^[\w.:-]+$/.test(host) || (host.includes(':') && isIP(host) !== 6)) throw new UsageError(`--host: not an address: ${value}`);
  return host;
}

/**
 * A host name given as --host (or --api-host) must resolve before anything
 * binds: `localhostt` is a usage error naming the option and the fix (exit 2),
 * not a raw `getaddrinfo ENOTFOUND` at run time. Addresses pass untouched.
 */
export async function checkHostResolves(host: string, option = '--host'): Promise<void> {
  if (isIP(host) !== 0) return;
  const { lookup } = await import('node:dns/promises');
  try {
    await lookup(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_NODATA' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
      throw new UsageError(`${option} ${host}: unknown host (no address found for this name): check the spelling, or give an address of this machine such as 127.0.0.1 or ::1`, { cause: err });
    }
    throw err;
  }
}

/** Writes one JSON object as a line on stdout (the only thing `--json` prints there). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * Refuses common options that mean nothing for `command` (e.g. --api on a
 * short-lived `kv`), so a user is told instead of silently ignored.
 */
export function refuseInapplicable(common: CommonOptions, command: string, options: ('tracker' | 'api' | 'peer')[]): void {
  for (const o of options) {
    const given = o === 'peer' ? common.peers.length > 0 : common[o] !== undefined;
    if (given) throw new UsageError(`${command} does not use --${o}: it applies to seed, leech and start`);
  }
}
