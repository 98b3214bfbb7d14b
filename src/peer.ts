#!/usr/bin/env node
import './cli/v8-flags.js';
import './cli/early-signals.js';
import { buildPeerProgram } from './cli/program.js';
import { runCli } from './cli/run.js';

await runCli(buildPeerProgram());
