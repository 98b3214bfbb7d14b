/**
 * Shared helpers for the swarm integration tests (test/swarm-*.test.ts):
 * temp dirs, fixture files, torrents, free ports, and our `peer` program
 * run as a child process with `--json`, its event lines parsed as they come.
 *
 * Everything a helper starts is registered with `t.teardown`, so a test that
 * fails half-way still leaves no process, socket or folder behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makeTorrent } from '../../src/cli/make-torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';

import { PEER_BIN, REPO_ROOT } from './bin.js';
export { REPO_ROOT };

/** Every wait in these tests is bounded by this unless a test says otherwise. */
export const WAIT_MS = 60_000;

/**
 * Where cleanups are registered: an ava ExecutionContext, or a `Cleanup` for
 * things a whole file shares (a `before` hook's own teardown would run as
 * soon as the hook ends).
 */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Cleanups run last-registered first, e.g. from `test.after.always`. */
export class Cleanup implements Teardown {
  readonly #fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async run(): Promise<void> {
    while (this.#fns.length) await this.#fns.pop()!();
  }
}

// --- temp dirs and fixtures -------------------------------------------------

/** A fresh folder under os.tmpdir(), removed when the test ends. */
export async function tempDir(t: Teardown, prefix = 'swarm-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Deterministic bytes (an LCG seeded by `seed`) with runs of NUL bytes in
 * them, and a NUL as first and last byte: NULs must survive every path.
 */
export function fixtureBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 1021 < 7 ? 0 : x >>> 24;
  }
  if (length > 0) {
    out[0] = 0;
    out[length - 1] = 0;
  }
  return out;
}

/** Writes `bytes` at `file`, creating its folders. */
export async function writeFixture(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

export interface TorrentFixture {
  /** The .torrent file. */
  torrentPath: string;
  meta: Metainfo;
  infoHashHex: string;
  /** The content as given to make-torrent (a file, or the folder of a multi-file torrent). */
  contentPath: string;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
}

/** Makes a torrent of `contentPath` in-process (no child start-up) and writes it to `torrentPath`. */
export async function torrentOf(contentPath: string, torrentPath: string, pieceLength: number): Promise<TorrentFixture> {
  const { torrent, meta } = await makeTorrent(contentPath, { pieceLength, threads: 1 });
  await writeFile(torrentPath, torrent);
  return {
    torrentPath,
    meta,
    infoHashHex: meta.infoHashHex,
    contentPath,
    pieceLength: meta.info.pieceLength,
    pieceCount: meta.info.pieceCount,
    totalLength: meta.info.length,
  };
}

/** Single-file content of `length` bytes (with NULs) and its torrent, in `dir`. */
export async function singleFileTorrent(dir: string, opts: { name?: string; length: number; pieceLength: number; seed?: number }): Promise<TorrentFixture> {
  const file = path.join(dir, 'content', opts.name ?? 'payload.bin');
  await writeFixture(file, fixtureBytes(opts.length, opts.seed ?? 1));
  return torrentOf(file, path.join(dir, `${path.basename(file)}.torrent`), opts.pieceLength);
}

/** Every regular file under `root`, as relative path -> sha1 hex and size (folders walked, sorted). */
export async function treeDigest(root: string): Promise<Map<string, { size: number; sha1: string }>> {
  const out = new Map<string, { size: number; sha1: string }>();
  const st = await stat(root);
  if (st.isFile()) {
    out.set('', { size: st.size, sha1: await fileSha1(root) });
    return out;
  }
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else if (e.isFile()) out.set(r, { size: (await stat(p)).size, sha1: await fileSha1(p) });
    }
  };
  await walk(root, '');
  return out;
}

export async function fileSha1(file: string): Promise<string> {
  return createHash('sha1').update(await readFile(file)).digest('hex');
}

// --- ports --------------------------------------------------------------------

function listenOnce(host: string, port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

function closeServer(s: net.Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

/**
 * A TCP port that is free on every one of `hosts` right now (other helpers
 * run tests at the same time, so a fixed port could collide). The same
 * number on several addresses is what the two-"machines" tests want.
 */
export async function freePort(hosts: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the kernel's ephemeral range (32768-60999 here): a port the system hands to a listener on port 0
    // or to an outgoing connection can never be one picked here and bound a moment later.
    const port = 20_000 + Math.floor(Math.random() * 12_700);
    const held: net.Server[] = [];
    let ok = true;
    for (const h of hosts) {
      const s = await listenOnce(h, port);
      if (!s) {
        ok = false;
        break;
      }
      held.push(s);
    }
    await Promise.all(held.map(closeServer));
    if (ok) return port;
  }
  throw new Error(`no free port on ${hosts.join(', ')} after 50 tries`);
}

// --- bounded waits ----------------------------------------------------------

/** Resolves with `p`, or rejects naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// --- our peer as a child process --------------------------------------------------

export type PeerEvent =
  | { event: 'progress'; infoHash: string; have: number; pieces: number; downloaded: number; uploaded: number; peers: number; downloadRate: number; uploadRate: number }
  | { event: 'complete'; infoHash: string; downloaded: number; elapsedMs: number }
  | { event: 'error'; message: string }
  | { event: 'paused'; infoHash: string; reason: string }
  | { event: 'unpaused'; infoHash: string }
  | { event: 'summary'; infoHash: string; downloaded: number; uploaded: number; ratio: number | null; left: number }
  | { event: 'started'; infoHash: string; name: string; mode: 'seed' | 'leech'; path: string; sources: string[] }
  | { event: 'resumed'; infoHash: string; have: number; pieces: number; how: 'trusted' | 'verified' }
  | { event: 'peer'; infoHash: string; state: 'connected' | 'gone'; address: string; outgoing?: boolean; client?: string; fast?: boolean; reason?: string }
  | { event: 'tracker'; infoHash: string; state: 'announced' | 'failed'; url: string; peers?: number; error?: string; failures?: number; retryInMs?: number }
  | { event: 'message'; infoHash: string; from: string; text: string }
  | { event: 'metadata'; infoHash: string; state: 'fetching' | 'received'; name: string | null; sources?: string[]; elapsedMs?: number };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PeerProcess {
  child: ChildProcess;
  args: string[];
  /** Every parsed stdout line, in order. */
  readonly events: PeerEvent[];
  /** Stdout lines that were not JSON objects (there must be none with --json). */
  readonly badLines: string[];
  /** When each event arrived (ms since the epoch, same index as `events`). */
  readonly eventTimes: number[];
  readonly startedAt: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** The exit, once it happened. */
  exit: Exit | undefined;
  /** The first event (already seen or future) matching `pred`, within `ms`; rejects early if the process exits first. */
  waitFor<E extends PeerEvent>(pred: (e: PeerEvent) => e is E, what: string, ms?: number): Promise<E>;
  waitFor(pred: (e: PeerEvent) => boolean, what: string, ms?: number): Promise<PeerEvent>;
  /** Waits until stderr contains `text`, within `ms`. */
  waitForStderr(text: string | RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit, within `ms` (rejects on timeout). */
  waitExit(ms?: number): Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
  /** A short summary for assertion messages: args, exit, stderr tail. */
  describe(): string;
}

export const isProgress = (e: PeerEvent): e is Extract<PeerEvent, { event: 'progress' }> => e.event === 'progress';
export const isComplete = (e: PeerEvent): e is Extract<PeerEvent, { event: 'complete' }> => e.event === 'complete';

/**
 * Runs the built `peer ...args` (dist/peer.js) from the project root. The
 * child is SIGKILLed in teardown if it still runs; its stdout is parsed as
 * JSON lines.
 */
export function spawnPeer(t: Teardown, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; wrap?: string[] } = {}): PeerProcess {
  return spawnJson(t, process.execPath, [PEER_BIN, ...args], args, opts);
}

/**
 * Runs `file ...argv` (or `wrap... file ...argv`, e.g. inside a network
 * namespace with `['ip', 'netns', 'exec', 'h1']`) with its stdout parsed as
 * JSON lines; `label` names it in messages. SIGKILLed in teardown if it
 * still runs.
 */
export function spawnJson(t: Teardown, file: string, argv: string[], label: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; wrap?: string[] } = {}): PeerProcess {
  const args = label;
  const [cmd, ...rest] = opts.wrap?.length ? [...opts.wrap, file, ...argv] : [file, ...argv];
  const child = spawn(cmd!, rest, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: PeerEvent[] = [];
  const eventTimes: number[] = [];
  const badLines: string[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim() === '') continue;
      try {
        const v = JSON.parse(line) as unknown;
        if (v === null || typeof v !== 'object' || Array.isArray(v)) badLines.push(line);
        else {
          events.push(v as PeerEvent);
          eventTimes.push(Date.now());
        }
      } catch {
        badLines.push(line);
      }
    }
    notify();
  });
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
    notify();
  });
  const proc: PeerProcess = {
    child,
    args,
    events,
    badLines,
    eventTimes,
    startedAt: Date.now(),
    stdout: () => out,
    stderr: () => err,
    exit: undefined,
    exited: new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        proc.exit = { code, signal };
        resolve(proc.exit);
      });
    }),
    waitFor(pred: (e: PeerEvent) => boolean, what: string, ms = WAIT_MS): Promise<PeerEvent> {
      return waitUntil(() => events.find(pred), `${what} from peer ${args[0]}`, ms);
    },
    waitForStderr(text: string | RegExp, ms = WAIT_MS): Promise<void> {
      const has = (): true | undefined => ((typeof text === 'string' ? err.includes(text) : text.test(err)) ? true : undefined);
      return waitUntil(has, `stderr ${String(text)} from peer ${args[0]}`, ms).then(() => undefined);
    },
    waitExit(ms = WAIT_MS): Promise<Exit> {
      return within(proc.exited, ms, `peer ${args[0]} to exit`);
    },
    kill(signal: NodeJS.Signals = 'SIGTERM'): void {
      if (proc.exit === undefined) child.kill(signal);
    },
    describe(): string {
      const tail = err.length > 3000 ? `...${err.slice(-3000)}` : err;
      return `peer ${args.join(' ')}\nexit: ${JSON.stringify(proc.exit)}\nstderr:\n${tail}`;
    },
  } as PeerProcess;

  /** Resolves with the first non-undefined `check()`, re-checked on every output; rejects on exit or timeout. */
  function waitUntil<T>(check: () => T | undefined, what: string, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        waiters.delete(onOutput);
        fn();
      };
      const onOutput = (): void => {
        const v = check();
        if (v !== undefined) finish(() => resolve(v));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${proc.describe()}`))), ms);
      waiters.add(onOutput);
      void proc.exited.then(() =>
        // Output may still be in the pipes when 'exit' fires: look once more after they drain.
        setTimeout(() => {
          onOutput();
          finish(() => reject(new Error(`peer exited before ${what}\n${proc.describe()}`)));
        }, 200),
      );
      onOutput();
    });
  }

  t.teardown(async () => {
    if (proc.exit === undefined) {
      child.kill('SIGKILL');
      await within(proc.exited, 10_000, 'a killed child to exit').catch(() => undefined);
    }
  });
  return proc;
}

/**
 * The exit of a child whose output has been read to the end (the 'close'
 * event: 'exit' may fire while stdout still holds lines).
 */
export function closed(p: PeerProcess, ms = WAIT_MS): Promise<Exit> {
  return within(
    new Promise<Exit>((resolve) => {
      if (p.child.stdout!.readableEnded && p.child.stderr!.readableEnded && p.exit) return resolve(p.exit);
      p.child.once('close', (code, signal) => resolve({ code, signal }));
    }),
    ms,
    `peer ${p.args[0]} to close its output`,
  );
}

/** Arguments every swarm peer of these tests takes: loopback address, port, state folder, JSON events. */
export function peerArgs(host: string, port: number, stateDir: string, extra: string[] = []): string[] {
  return ['--host', host, '--port', String(port), '--state', stateDir, '--json', '--no-dht', ...extra];
}

// --- checks on events -----------------------------------------------------------

const PROGRESS_NUMBERS = ['have', 'pieces', 'downloaded', 'uploaded', 'peers', 'downloadRate', 'uploadRate'] as const;

/**
 * Problems with a JSON event stream against DESIGN.md's shapes (empty when
 * well-formed): every line an object with a known `event` and the contract's
 * fields with the right types and sane values for this torrent.
 */
export function eventProblems(p: PeerProcess, torrent: { infoHashHex: string; pieceCount: number }): string[] {
  const problems: string[] = p.badLines.map((l) => `not a JSON object: ${l}`);
  p.events.forEach((e, i) => {
    const where = `event ${i} ${JSON.stringify(e)}`;
    const rec = e as Record<string, unknown>;
    switch (e.event) {
      case 'progress':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        for (const k of PROGRESS_NUMBERS) {
          const v = rec[k];
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) problems.push(`${where}: ${k} is not a non-negative integer`);
        }
        if (e.pieces !== torrent.pieceCount) problems.push(`${where}: pieces != ${torrent.pieceCount}`);
        if (e.have > e.pieces) problems.push(`${where}: have > pieces`);
        break;
      case 'complete':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        for (const k of ['downloaded', 'elapsedMs'] as const) {
          const v = rec[k];
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) problems.push(`${where}: ${k} is not a non-negative integer`);
        }
        break;
      case 'error':
        if (typeof rec.message !== 'string') problems.push(`${where}: message is not a string`);
        break;
      case 'paused':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (typeof rec.reason !== 'string') problems.push(`${where}: reason is not a string`);
        break;
      case 'unpaused':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        break;
      case 'started':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (typeof rec.path !== 'string' || !Array.isArray(rec.sources)) problems.push(`${where}: path or sources`);
        break;
      case 'resumed':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (typeof rec.have !== 'number' || rec.pieces !== torrent.pieceCount || (rec.have as number) > torrent.pieceCount) problems.push(`${where}: have/pieces`);
        break;
      case 'summary':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        for (const k of ['downloaded', 'uploaded', 'left'] as const) {
          const v = rec[k];
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) problems.push(`${where}: ${k} is not a non-negative integer`);
        }
        if (rec.ratio !== null && (typeof rec.ratio !== 'number' || rec.ratio < 0)) problems.push(`${where}: ratio is neither null nor a non-negative number`);
        break;
      case 'peer':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (rec.state !== 'connected' && rec.state !== 'gone') problems.push(`${where}: state is neither connected nor gone`);
        if (typeof rec.address !== 'string') problems.push(`${where}: address is not a string`);
        break;
      case 'tracker':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (typeof rec.url !== 'string') problems.push(`${where}: url is not a string`);
        if (rec.state === 'announced') {
          if (typeof rec.peers !== 'number') problems.push(`${where}: peers is not a number`);
        } else if (rec.state === 'failed') {
          if (typeof rec.error !== 'string' || typeof rec.retryInMs !== 'number' || typeof rec.failures !== 'number') problems.push(`${where}: error, failures or retryInMs`);
        } else problems.push(`${where}: state is neither announced nor failed`);
        break;
      case 'metadata':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (rec.state !== 'fetching' && rec.state !== 'received') problems.push(`${where}: state is neither fetching nor received`);
        break;
      case 'message':
        if (rec.infoHash !== torrent.infoHashHex) problems.push(`${where}: infoHash`);
        if (typeof rec.from !== 'string' || typeof rec.text !== 'string') problems.push(`${where}: from or text is not a string`);
        break;
      default:
        problems.push(`${where}: unknown event`);
    }
  });
  return problems;
}

/**
 * At most one progress line a second (DESIGN.md): over the whole run the
 * count may not exceed the seconds it lasted plus one. Only an upper bound
 * from wall time, so a slow machine cannot make it fail.
 */
export function progressRateProblem(p: PeerProcess): string | undefined {
  const count = p.events.filter(isProgress).length;
  const end = p.eventTimes.length ? Math.max(Date.now(), ...p.eventTimes) : Date.now();
  const seconds = Math.ceil((end - p.startedAt) / 1000);
  return count > seconds + 1 ? `${count} progress lines in ${seconds} s` : undefined;
}
