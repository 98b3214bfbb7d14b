/**
 * DaemonQueue (src/session/daemon-queue.ts) over fake torrents and a fake
 * clock: slots in order, seed time and ratio limits with totals carried
 * over from earlier runs, per-torrent overrides.
 */
import test from 'ava';
import { DaemonQueue, type SeedTotals } from '../src/session/daemon-queue.js';
import { resolveSettings, type Settings } from '../src/settings.js';
import type { Torrent } from '../src/session/torrent.js';

interface Fake {
  infoHashHex: string;
  done: boolean;
  paused: boolean;
  held: 'queued' | 'finished' | undefined;
  uploaded: number;
  seedLimits: { ratio?: number; timeS?: number };
}

function fake(hex: string, done: boolean): Fake {
  return { infoHashHex: hex, done, paused: false, held: undefined, uploaded: 0, seedLimits: {} };
}

/** What DaemonQueue reads of a Torrent, over a Fake. */
function asTorrent(f: Fake): Torrent {
  return {
    get infoHashHex() {
      return f.infoHashHex;
    },
    get done() {
      return f.done;
    },
    get paused() {
      return f.paused;
    },
    get seedLimits() {
      return f.seedLimits;
    },
    get state() {
      return f.paused ? 'paused' : (f.held ?? (f.done ? 'seeding' : 'downloading'));
    },
    metainfo: { info: { length: 1000 } },
    stats: () => ({ uploaded: f.uploaded }),
    hold: (why: 'queued' | 'finished') => void (f.held = why),
    unhold: () => void (f.held = undefined),
  } as unknown as Torrent;
}

function setup(fakes: Fake[], settings: Partial<Settings> = {}, saved: Record<string, SeedTotals> = {}) {
  let now = 1_000_000;
  const torrents = fakes.map(asTorrent);
  const q = new DaemonQueue({
    settings: resolveSettings(settings),
    torrents: () => torrents,
    orderOf: (hex) => fakes.findIndex((f) => f.infoHashHex === hex),
    savedTotals: (hex) => saved[hex],
    clock: () => now,
  });
  return { q, advance: (ms: number) => void (now += ms) };
}

test('slots are given in order; a paused torrent takes none; a completed one frees its download slot', (t) => {
  const [a, b, c] = [fake('a', false), fake('b', false), fake('c', false)];
  const { q } = setup([a, b, c], { maxActiveDownloads: 2 });
  q.update();
  t.deepEqual([a.held, b.held, c.held], [undefined, undefined, 'queued']);
  a.paused = true;
  q.update();
  t.is(c.held, undefined, 'a pause frees a slot');
  a.paused = false;
  q.update();
  t.is(c.held, 'queued', 'the earlier torrent takes its slot back');
  a.done = true;
  q.update();
  t.deepEqual([a.held, b.held, c.held], [undefined, undefined, undefined]);
});

test('seed time limit: counted only while seeding, carried over from earlier runs, overridable per torrent', (t) => {
  const a = fake('a', true);
  const { q, advance } = setup([a], { seedTimeLimitS: 100 }, { a: { uploadedBytes: 0, seedingMs: 60_000 } });
  q.update();
  advance(30_000);
  q.update();
  t.is(a.held, undefined, '90 s in all');
  a.paused = true;
  advance(60_000);
  q.update();
  a.paused = false;
  q.update();
  t.is(a.held, undefined, 'paused time does not count');
  t.is(q.totals('a')!.seedingMs, 90_000);
  advance(10_000);
  q.update();
  t.is(a.held, 'finished');
  t.regex(q.finishedReason(asTorrent(a)) ?? '', /seed time 100 s/);
  a.seedLimits.timeS = 0;
  q.update();
  t.is(a.held, undefined, '0 for this torrent: never');
});

test('seed ratio limit: uploaded bytes of earlier runs count; a torrent still downloading never finishes', (t) => {
  const [a, b] = [fake('a', true), fake('b', false)];
  const { q } = setup([a, b], { seedRatioLimit: 2 }, { a: { uploadedBytes: 1500, seedingMs: 0 }, b: { uploadedBytes: 5000, seedingMs: 0 } });
  q.update();
  t.is(a.held, undefined);
  a.uploaded = 500;
  q.update();
  t.is(a.held, 'finished', '1500 + 500 = 2 x 1000');
  t.is(b.held, undefined, 'b is not complete');
  a.seedLimits.ratio = 3;
  q.update();
  t.is(a.held, undefined);
});
