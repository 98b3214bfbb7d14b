/**
 * libtorrent (Debian's python3-libtorrent, the real library) as a peer of
 * the interop tests: each call starts test/py/lt_peer.py as its own process
 * (one libtorrent "machine"), whose stdout is JSON events, one per line.
 */
import path from 'node:path';
import { REPO_ROOT } from './bin.js';
import { SYSTEM_PYTHON } from './clients.js';
import { spawnJson, WAIT_MS, type PeerProcess, type Teardown } from './swarm.js';

export const LT_SCRIPT = path.join(REPO_ROOT, 'test', 'py', 'lt_peer.py');

/** A JSON event of lt_peer.py. */
export type LtEvent = Record<string, unknown> & { event: string };

/** Starts `lt_peer.py ...args` (see that file for its options and events). */
export function spawnLibtorrent(t: Teardown, args: string[], opts: { wrap?: string[]; cwd?: string } = {}): PeerProcess {
  return spawnJson(t, SYSTEM_PYTHON, [LT_SCRIPT, ...args], ['libtorrent', ...args], opts);
}

/** The first event named `name` (already seen or future), within `ms`. */
export async function ltEvent(p: PeerProcess, name: string, ms = WAIT_MS, pred: (e: LtEvent) => boolean = () => true): Promise<LtEvent> {
  return (await p.waitFor((e) => (e as unknown as LtEvent).event === name && pred(e as unknown as LtEvent), `libtorrent event ${name}`, ms)) as unknown as LtEvent;
}

/** The port libtorrent listens on (its first event). */
export async function ltPort(p: PeerProcess, ms = WAIT_MS): Promise<number> {
  return (await ltEvent(p, 'listening', ms)).port as number;
}

/** Runs `lt_peer.py --make ...` and resolves with the info-hash libtorrent computed. */
export async function ltMakeTorrent(t: Teardown, content: string, out: string, opts: { v1Only?: boolean; pieceSize?: number; trackers?: string[] } = {}): Promise<string> {
  const args = ['--make', content, '--out', out];
  if (opts.v1Only) args.push('--v1-only');
  if (opts.pieceSize) args.push('--piece-size', String(opts.pieceSize));
  for (const url of opts.trackers ?? []) args.push('--tracker-url', url);
  const p = spawnLibtorrent(t, args);
  const made = await ltEvent(p, 'made', 60_000);
  await p.waitExit(30_000);
  return made.infoHash as string;
}
