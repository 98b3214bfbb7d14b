#!/usr/bin/env node
import { prestartHashThreads } from './storage/hash-on-cores.js';
import { buildMakeTorrentProgram } from './cli/make-torrent.js';
import { runCli } from './cli/run.js';

// The hashing threads boot (tens of ms each) while the flags are parsed and the files listed.
if (!process.argv.slice(2).some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) prestartHashThreads();
await runCli(buildMakeTorrentProgram());
