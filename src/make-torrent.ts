#!/usr/bin/env node
import { prestartHashThreads } from './storage/hash-on-cores.js';
import { buildMakeTorrentProgram } from './cli/make-torrent.js';
import { runCli } from './cli/run.js';

// The hashing threads boot (tens of ms each) while the flags are parsed and the files listed.
if (!process.argv.slice(2).some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) prestartHashThreads();
await runCli(buildMakeTorrentProgram());
// Everything is written and closed: exit now rather than after the engine's
// teardown (a few ms). Only when nothing is left buffered for stdout/stderr.
if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
