#!/usr/bin/env node
import { buildMakeTorrentProgram } from './cli/make-torrent.js';
import { runCli } from './cli/run.js';

await runCli(buildMakeTorrentProgram());
