/**
 * Benchmark child: runs our `peer` program from dist/ (path in BENCH_PEER_JS)
 * with this process's arguments, and reports its resource usage at exit.
 * `node launch-peer.js seed ...` leaves argv shaped as `peer seed ...` expects.
 */
import { pathToFileURL } from 'node:url';
import { reportUsageOnExit } from './usage-report.js';

const peerJs = process.env.BENCH_PEER_JS;
if (!peerJs) throw new Error('BENCH_PEER_JS must name dist/peer.js');
reportUsageOnExit();
await import(pathToFileURL(peerJs).href);
