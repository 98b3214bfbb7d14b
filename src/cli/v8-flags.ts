/**
 * V8 settings for the long-running commands, set before the rest of the
 * program loads (imported first by src/peer.ts).
 *
 * The young generation otherwise grows to 16-32 MiB per process during a
 * long transfer, and the garbage it promotes waits in the old generation
 * for a full collection: measured on a 1 GiB transfer, a growth factor of 1
 * kept the leecher's young generation at 2 MiB and its peak anonymous RSS
 * at 71-75 MiB instead of 85-87 MiB, with the same CPU.
 *
 * --optimize-for-size: the old generation may grow 2 MB (not 8 MB) past
 * what the last full collection left before the next one. Besides the JS
 * heap's own slack, a full collection is what frees buffers that lived long
 * enough to be promoted (piece images, read buffers): V8 counts them only
 * lightly, so they waited, as malloc heap, for a collection the JS heap
 * alone did not ask for. bench:lan, 40 hosts, half of them with the flag
 * (the same load): peak RSS median 80.8 / max 84.3 MiB with it, 83.0 / 96.0
 * MiB without.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
v8.setFlagsFromString('--optimize-for-size');
