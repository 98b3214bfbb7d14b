/**
 * The libtorrent side of the loopback swarm (bench/swarm.ts, issue 13):
 * every libtorrent "machine" is its own python process (test/py/lt_peer.py
 * run through bench/lib/lt-usage.py, which writes its CPU time and peak RSS
 * at exit like our launch-peer.ts does), bound to its own 127.0.0.x for
 * listening and sending (listen_interfaces, outgoing_interfaces). lt_peer.py
 * already turns DHT, LSD, UPnP, NAT-PMP and uTP off and allows several
 * connections per address; it announces to the torrent's tracker, so both
 * clients meet through the same `peer tracker` and the same v1 torrent made
 * by our make-torrent.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startSwarmChild, type JsonEvent, type SwarmChild } from './swarm-child.js';

export const PYTHON = '/usr/bin/python3';

/** Whether python3-libtorrent is installed (the comparison is left out without it). */
export function libtorrentAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

export interface LtPeerSpec {
  root: string;
  torrent: string;
  host: string;
  port: number;
  /** The folder holding the torrent's content (seeder) or receiving it (leecher). */
  saveDir: string;
  /** lt_peer.py's own bound on its life, seconds: it exits (3) after this whatever happens. */
  timeoutS: number;
  reportPath: string;
}

function startLtPeer(name: string, spec: LtPeerSpec, extra: string[]): SwarmChild {
  return startSwarmChild(
    name,
    [
      join(spec.root, 'bench', 'lib', 'lt-usage.py'),
      '--torrent', spec.torrent, '--listen', `${spec.host}:${spec.port}`, '--save', spec.saveDir,
      '--timeout', String(Math.ceil(spec.timeoutS)), ...extra,
    ],
    {},
    spec.reportPath,
    spec.root,
    { command: PYTHON },
  );
}

/** A libtorrent seeder: it checks the data at `saveDir` first, then says `complete`. */
export function startLtSeeder(spec: LtPeerSpec): SwarmChild {
  return startLtPeer('lt seeder', spec, []);
}

export const ltSeederReady = (e: JsonEvent): boolean => e.event === 'complete';

/** A libtorrent leecher; with `exitOnComplete` it exits (0) as soon as it has the whole torrent, else it seeds until SIGINT. */
export function startLtLeecher(spec: LtPeerSpec, exitOnComplete: boolean): SwarmChild {
  return startLtPeer(`lt leecher ${spec.host}`, spec, exitOnComplete ? ['--exit-on-complete'] : []);
}
