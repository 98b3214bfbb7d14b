#!/usr/bin/env node
/**
 * The make-torrent executable. Its start-up is part of its speed: a GiB
 * hashes in ~0.3 s on two cores, and the CLI's modules (commander and the
 * rest) take tens of ms to load. So the helper threads are started, and set
 * hashing, first (make-torrent-early.ts), and the CLI is loaded after that
 * with dynamic imports, which the bundle (package.json `build`, packages
 * bundled in too) turns into code it runs only there. Literal paths only: the
 * bundle carries everything.
 */
import { startMakeTorrentEarly, stopMakeTorrentEarly } from './cli/make-torrent-early.js';

const argv = process.argv.slice(2);
startMakeTorrentEarly(argv);
const { buildMakeTorrentProgram } = await import('./cli/make-torrent.js');
const { runCli } = await import('./cli/run.js');
await runCli(buildMakeTorrentProgram());
// A usage error, or a command line the early start guessed wrong: stop what no one joined.
stopMakeTorrentEarly();
// Everything is written and closed: exit now rather than after the engine's
// teardown (a few ms). Only when nothing is left buffered for stdout/stderr.
if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
