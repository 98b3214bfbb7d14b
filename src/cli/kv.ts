/**
 * `peer kv put|get`: the DHT key-value layer (BEP 44) as a user sees it.
 *
 *   peer kv put <key> <value> [--namespace NAME | --identity] [common]
 *   peer kv put --immutable <value> [common]
 *   peer kv get <key> [--namespace NAME | --owner PUBKEY_HEX] [common]
 *   peer kv get --immutable <target_hex> [common]
 *
 * A key is the BEP 44 salt of a mutable item signed by the namespace's key
 * pair (derived from its name, see src/dht/bep44.ts) or by the node's own
 * identity key in --state (the default when neither --namespace nor --owner
 * is given). Values given on the command line are UTF-8 strings stored as
 * bencoded byte strings. Each run starts a short-lived node (on a free port
 * unless --port is given) that reaches the DHT through --bootstrap or,
 * without it, finds the LAN's DHT by itself (src/discovery/lsd-dht.ts): it
 * announces itself over LSD (BEP 14, unless --no-lsd) so the LAN's nodes
 * answer, and pings the daemon of its own host (--host, or 127.0.0.1, at
 * the default port), going on as soon as one node answers, for at most
 * settings.lsdKvWaitMs (3 s). `put --republish` keeps it running and puts
 * the item again every dhtRepublishIntervalMs until interrupted.
 *
 * --json: put -> {"target","publicKey","seq","stored"}; get -> {"target","value","seq","publicKey"}.
 */
import { Command } from 'commander';
import { addCommonOptions, parseCommonOptions, printJson, refuseInapplicable, type CommonOptions } from './common.js';
import type { DhtNode } from '../dht/node.js';
import { KvStore, kvKeySalt, kvValueBytes, kvValueText } from '../dht/kv.js';
import { DhtError, UsageError } from '../errors.js';
import { getLogger } from '../log.js';
import { fromHex, toHex } from '../util/bytes.js';
import { loadOrCreateIdentity } from '../dht/state.js';
import { findLanDhtNodes } from '../discovery/lsd-dht.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { isLoopbackHost } from '../util/address.js';

interface KvRaw {
  namespace?: string;
  identity?: boolean;
  owner?: string;
  immutable?: boolean;
  republish?: boolean;
}

export function registerKv(program: Command): void {
  // exitOverride is inherited by the subcommands: bad usage throws to runCli (exit 2) instead of exiting here.
  const kv = program.command('kv').description('store and look up small values on the DHT (BEP 44)').exitOverride();
  addCommonOptions(
    kv
      .command('put')
      .description('store a value under a key (or, with --immutable, under its own hash)')
      .argument('<key>', 'the key (BEP 44 salt, at most 64 bytes), or the value with --immutable')
      .argument('[value]', 'the value, a UTF-8 string (at most 1000 bytes bencoded); read from stdin when not given')
      .option('--namespace <name>', 'sign with the key pair derived from this name (anyone who knows it can write)')
      .option('--identity', "sign with this node's own key in --state (the default)")
      .option('--immutable', 'store the value under the SHA-1 of its bencoded form')
      .option('--republish', 'keep running and put the item again before it expires, until interrupted'),
    { hide: ['tracker', 'api', 'peer', 'dht'], jsonHelp: 'print the result as one JSON object on stdout: {"target","publicKey","seq","stored"}' },
  ).action(async (key: string, value: string | undefined, raw: KvRaw & Record<string, unknown>) => {
    await kvPut(key, value, raw, parseCommonOptions(raw as never));
  });
  addCommonOptions(
    kv
      .command('get')
      .description('look a key up (or, with --immutable, a target hash)')
      .argument('<key>', 'the key, or the 40-hex target with --immutable')
      .option('--namespace <name>', 'the namespace the key lives in')
      .option('--owner <pubkey_hex>', "the writer's 32-byte ed25519 public key, in hex")
      .option('--immutable', 'look up an immutable item by its target'),
    { hide: ['tracker', 'api', 'peer', 'dht'], jsonHelp: 'print the result as one JSON object on stdout: {"target","value","seq","publicKey"}' },
  ).action(async (key: string, raw: KvRaw & Record<string, unknown>) => {
    await kvGet(key, raw, parseCommonOptions(raw as never));
  });
}

function requireDht(common: CommonOptions): void {
  refuseInapplicable(common, 'peer kv', ['tracker', 'api', 'peer']);
  if (!common.dht) throw new UsageError('peer kv: --no-dht leaves no way to reach the DHT');
}

async function withNode<T>(common: CommonOptions, fn: (node: DhtNode) => Promise<T>, keepRunning = false): Promise<T> {
  const s = common.settings;
  const { DhtNode } = await import('../dht/node.js'); // loaded on use: other commands start without it
  // A short-lived client: read-only (BEP 43), so it leaves no dead entries in other nodes' tables.
  // With --republish it stays and answers like any node.
  const node = new DhtNode({ host: s.host, port: common.portGiven ? s.port : 0, bootstrap: common.bootstrap, settings: s, logger: getLogger('dht'), readOnly: !keepRunning });
  await node.start();
  try {
    if (common.bootstrap.length === 0) await findLanDht(node, common);
    const result = await fn(node);
    if (keepRunning) {
      process.stderr.write('republishing until interrupted (Ctrl-C)\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return result;
  } finally {
    await node.stop();
  }
}

/**
 * No --bootstrap: the LAN's DHT, found over LSD or at the daemon of this
 * host. When none answers in time, a UsageError (exit 2): what is missing is
 * the --bootstrap the user did not give.
 */
async function findLanDht(node: DhtNode, common: CommonOptions): Promise<void> {
  const s = common.settings;
  const daemon = { host: s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host, port: DEFAULT_SETTINGS.port };
  const found = await findLanDhtNodes(node, { host: s.host, settings: s, logger: getLogger('lsd'), waitMs: s.lsdKvWaitMs, lsd: common.lsd, candidates: [daemon] });
  if (found.length === 0) {
    throw new UsageError(
      `no DHT node found within ${s.lsdKvWaitMs / 1000} s: none answered${common.lsd && !isLoopbackHost(s.host) ? ' on the LAN (local service discovery) nor' : ''} at ${daemon.host}:${daemon.port}; give --bootstrap HOST:PORT`,
    );
  }
}

/** Bytes of stdin read at most for a value: far above what a value may hold, so the size check speaks, not a cut. */
const MAX_STDIN_VALUE_BYTES = 1024 * 1024;

/** The value piped in (UTF-8, one trailing newline dropped), or undefined when stdin is empty. */
async function readStdinValue(): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_VALUE_BYTES) throw new UsageError(`the value on stdin is over ${MAX_STDIN_VALUE_BYTES} bytes; a value holds at most 1000 bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function kvPut(key: string, value: string | undefined, raw: KvRaw, common: CommonOptions): Promise<void> {
  requireDht(common);
  if (raw.immutable) {
    if (value !== undefined) throw new UsageError('kv put --immutable takes the value only (its key is its hash)');
    if (raw.namespace !== undefined || raw.identity) throw new UsageError('kv put --immutable cannot be combined with --namespace or --identity');
    const v = kvValueBytes(key);
    const result = await withNode(common, (node) => node.putImmutable(v, { republish: raw.republish === true }), raw.republish === true);
    report({ target: toHex(result.target), publicKey: null, seq: null, stored: result.stored }, common);
    return;
  }
  // `echo v | peer kv put key`: the value from stdin when it is not given and stdin is not a terminal.
  if (value === undefined && !process.stdin.isTTY) value = await readStdinValue();
  if (value === undefined) throw new UsageError('kv put needs <key> <value> (or the value on stdin, or --immutable <value>)');
  if (raw.namespace !== undefined && raw.identity) throw new UsageError('kv put: give --namespace or --identity, not both');
  // Refuse bad input before starting a node (KvStore checks again).
  kvKeySalt(key);
  kvValueBytes(value);
  const identity = () => loadOrCreateIdentity(common.stateDir);
  const result = await withNode(common, (node) => new KvStore(node, identity).put(key, value, { republish: raw.republish === true, ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}) }), raw.republish === true);
  report(result, common);
}

function report(out: { target: string; publicKey: string | null; seq: number | null; stored: number }, common: CommonOptions): void {
  if (out.stored === 0) throw new DhtError(`no DHT node accepted the item (target ${out.target}); are the --bootstrap nodes (or the LAN's) running?`);
  if (common.json) printJson(out);
  else process.stdout.write(`stored on ${out.stored} node${out.stored === 1 ? '' : 's'}: target ${out.target}${out.seq !== null ? ` seq ${out.seq}` : ''}\n`);
}

function parseHexBytes(text: string, bytes: number, option: string): Uint8Array {
  if (text.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(text)) throw new UsageError(`${option}: expected ${bytes * 2} hex digits, got ${JSON.stringify(text)}`);
  return fromHex(text);
}

async function kvGet(key: string, raw: KvRaw, common: CommonOptions): Promise<void> {
  requireDht(common);
  if (raw.immutable) {
    if (raw.namespace !== undefined || raw.owner !== undefined) throw new UsageError('kv get --immutable cannot be combined with --namespace or --owner');
    const target = parseHexBytes(key, 20, 'target');
    const item = await withNode(common, (node) => node.get(target));
    if (!item) throw notFound(toHex(target));
    const value = kvValueText(item);
    if (common.json) printJson({ target: toHex(target), value, seq: null, publicKey: null });
    else process.stdout.write(value + '\n');
    return;
  }
  if (raw.namespace !== undefined && raw.owner !== undefined) throw new UsageError('kv get: give --namespace or --owner, not both');
  kvKeySalt(key);
  const owner = raw.owner !== undefined ? parseHexBytes(raw.owner, 32, '--owner') : undefined;
  const identity = () => loadOrCreateIdentity(common.stateDir);
  const store = (node: DhtNode) => new KvStore(node, identity);
  const result = await withNode(common, (node) => store(node).get(key, { ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}), ...(owner ? { owner } : {}) }));
  if (!result) throw notFound('for that key');
  if (common.json) printJson(result);
  else process.stdout.write(result.value + '\n');
}

function notFound(what: string): DhtError {
  return new DhtError(`not found: no node returned a verified item ${/^[0-9a-f]{40}$/.test(what) ? `for target ${what}` : what}`);
}
