#!/usr/bin/env node
import { buildPeerProgram } from './cli/program.js';
import { runCli } from './cli/run.js';

await runCli(buildPeerProgram());
