/**
 * `npm run fuzz -- [COUNT] [TARGET...]`: feeds COUNT random and mutated
 * inputs (default 1,000,000) to each target in fuzz/targets/. Every input
 * must end in a value or the target's typed error; an uncaught exception,
 * a stack overflow or an input slower than a second is a failure.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import type { FuzzTarget } from './target.js';

const args = process.argv.slice(2);
const count = args[0] && /^\d+$/.test(args[0]) ? Number(args.shift()) : 1_000_000;
const only = new Set(args);

// Deterministic PRNG (xorshift32) so a failure can be replayed from its seed.
let state = Number(process.env.FUZZ_SEED ?? 0x9e3779b9) >>> 0 || 1;
function rand(n: number): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state % n;
}

const INTERESTING = ['i-0e', 'i00e', 'le', 'de', '0:', '4294967296:', 'i9999999999999999999e', 'd', 'l', 'e', ':', '-1:', '99999999999:'].map((s) => Buffer.from(s));

function mutate(seed: Uint8Array): Uint8Array {
  let buf = Buffer.from(seed);
  const rounds = 1 + rand(4);
  for (let r = 0; r < rounds; r++) {
    const pos = buf.length ? rand(buf.length) : 0;
    switch (rand(9)) {
      case 0: // flip a bit
        if (buf.length) buf[pos] ^= 1 << rand(8);
        break;
      case 1: // random byte
        if (buf.length) buf[pos] = rand(256);
        break;
      case 2: // delete a run
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + rand(16))]);
        break;
      case 3: // insert random bytes
        buf = Buffer.concat([buf.subarray(0, pos), Buffer.from(Array.from({ length: 1 + rand(8) }, () => rand(256))), buf.subarray(pos)]);
        break;
      case 4: // truncate
        buf = buf.subarray(0, pos);
        break;
      case 5: // insert an interesting token
        buf = Buffer.concat([buf.subarray(0, pos), INTERESTING[rand(INTERESTING.length)]!, buf.subarray(pos)]);
        break;
      case 6: { // duplicate a chunk
        const len = 1 + rand(64);
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos, pos + len), buf.subarray(pos)]);
        break;
      }
      case 7: // ASCII digit soup (length prefixes)
        if (buf.length) buf[pos] = 0x30 + rand(10);
        break;
      default: // swap two bytes
        if (buf.length > 1) {
          const q = rand(buf.length);
          const t = buf[pos]!;
          buf[pos] = buf[q]!;
          buf[q] = t;
        }
    }
  }
  return buf;
}

function randomInput(): Uint8Array {
  const len = rand(256);
  const out = new Uint8Array(len);
  const alphabet = rand(2) === 0;
  for (let i = 0; i < len; i++) out[i] = alphabet ? 'dlie0123456789:-'.charCodeAt(rand(16)) : rand(256);
  return out;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'targets');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') || f.endsWith('.js')).sort();
let failures = 0;
for (const file of files) {
  const target = (await import(pathToFileURL(join(dir, file)).href)).default as FuzzTarget;
  if (only.size && !only.has(target.name)) continue;
  const seeds = target.seeds();
  const t0 = process.hrtime.bigint();
  let accepted = 0;
  let refused = 0;
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const input = i % 10 === 0 || seeds.length === 0 ? randomInput() : mutate(seeds[rand(seeds.length)]!);
    const s = performance.now();
    try {
      target.run(input);
      accepted++;
    } catch (err) {
      if (target.expected(err)) refused++;
      else {
        failures++;
        if (failures <= 10) console.error(`[${target.name}] unexpected ${String(err)} on input ${Buffer.from(input).toString('base64')}`);
      }
    }
    const took = performance.now() - s;
    if (took > slowest) slowest = took;
    if (took > 1000) {
      failures++;
      console.error(`[${target.name}] input took ${took.toFixed(0)} ms: ${Buffer.from(input).toString('base64').slice(0, 200)}`);
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${target.name}: ${count} inputs in ${secs.toFixed(1)} s (${Math.round(count / secs)}/s): ${accepted} parsed, ${refused} refused with a typed error, slowest ${slowest.toFixed(2)} ms`);
}
console.log(failures === 0 ? 'fuzz: no failures' : `fuzz: ${failures} FAILURES`);
process.exitCode = failures === 0 ? 0 : 1;
