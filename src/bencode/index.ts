/**
 * Typed wrappers over the `bencode` package, plus a scanner that validates
 * input before the package decodes it.
 *
 * Why a scanner first: the package decodes recursively (a file of 100,000
 * nested lists overflows the stack), trusts string lengths, and ignores
 * trailing bytes. `scanValue` walks the bytes iteratively with a depth
 * limit, checks every length against the bytes that remain, and gives the
 * byte span of each value, which is how the info-hash is taken from the
 * exact bytes of `info` (BEP 3; never re-encode).
 */
import bencode from 'bencode';
import { BencodeError } from '../errors.js';

export type BValue = Uint8Array | number | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

export interface Span {
  start: number;
  end: number;
}

export interface ScanLimits {
  /** Deepest nesting of lists and dicts accepted. Metainfo needs about 4. */
  maxDepth?: number;
}

/** Enough for any real torrent, KRPC or tracker reply; far below stack limits. */
export const DEFAULT_MAX_DEPTH = 64;

const CH_D = 0x64; // d
const CH_E = 0x65; // e
const CH_I = 0x69; // i
const CH_L = 0x6c; // l
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

const IN_LIST = 0;
const DICT_KEY = 1;
const DICT_VALUE = 2;

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= CH_0 && c <= CH_9;
}

/** Parses `i<int>e` at `pos`; returns [value, end]. */
function scanInt(buf: Uint8Array, pos: number): [number, number] {
  let i = pos + 1;
  const neg = buf[i] === CH_MINUS;
  if (neg) i++;
  const digitsStart = i;
  while (isDigit(buf[i])) i++;
  if (i >= buf.length) throw new BencodeError('truncated integer', pos);
  if (buf[i] !== CH_E) throw new BencodeError('integer has a non-digit character', i);
  const digits = i - digitsStart;
  if (digits === 0) throw new BencodeError('integer has no digits', pos);
  if (buf[digitsStart] === CH_0 && (digits > 1 || neg)) throw new BencodeError('integer has a leading zero or is -0', pos);
  if (digits > 16) throw new BencodeError('integer is too large', pos);
  let value = 0;
  for (let k = digitsStart; k < i; k++) value = value * 10 + (buf[k]! - CH_0);
  if (!Number.isSafeInteger(value)) throw new BencodeError('integer is too large', pos);
  return [neg ? -value : value, i + 1];
}

/** Parses `<len>:` at `pos` and checks the bytes exist; returns [contentStart, end]. */
function scanString(buf: Uint8Array, pos: number): [number, number] {
  let i = pos;
  while (isDigit(buf[i])) i++;
  if (i >= buf.length) throw new BencodeError('truncated string length', pos);
  if (buf[i] !== CH_COLON) throw new BencodeError('string length is not followed by a colon', i);
  const digits = i - pos;
  if (digits > 1 && buf[pos] === CH_0) throw new BencodeError('string length has a leading zero', pos);
  if (digits > 15) throw new BencodeError('string length is absurdly large', pos);
  let len = 0;
  for (let k = pos; k < i; k++) len = len * 10 + (buf[k]! - CH_0);
  const start = i + 1;
  if (len > buf.length - start) {
    throw new BencodeError(`string claims ${len} bytes but only ${buf.length - start} remain`, pos);
  }
  return [start, start + len];
}

/**
 * Validates one bencoded value starting at `start` and returns where it ends.
 * Iterative, so hostile nesting cannot overflow the stack.
 */
export function scanValue(buf: Uint8Array, start = 0, limits: ScanLimits = {}): number {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const stack: number[] = [];
  let i = start;
  const afterValue = (): void => {
    const top = stack.length - 1;
    if (top < 0) return;
    if (stack[top] === DICT_KEY) stack[top] = DICT_VALUE;
    else if (stack[top] === DICT_VALUE) stack[top] = DICT_KEY;
  };
  do {
    if (i >= buf.length) throw new BencodeError(stack.length ? 'truncated input: a list or dictionary is not closed' : 'empty input', i);
    const c = buf[i]!;
    const state = stack.length ? stack[stack.length - 1] : -1;
    if (c === CH_E) {
      if (state === IN_LIST || state === DICT_KEY) {
        stack.pop();
        i++;
        afterValue();
        continue;
      }
      throw new BencodeError(state === DICT_VALUE ? 'dictionary key has no value' : "unexpected 'e'", i);
    }
    if (state === DICT_KEY && !isDigit(c)) throw new BencodeError('dictionary key is not a string', i);
    if (c === CH_I) {
      i = scanInt(buf, i)[1];
      afterValue();
    } else if (isDigit(c)) {
      i = scanString(buf, i)[1];
      afterValue();
    } else if (c === CH_L || c === CH_D) {
      if (stack.length >= maxDepth) throw new BencodeError(`nesting deeper than ${maxDepth} levels`, i);
      stack.push(c === CH_L ? IN_LIST : DICT_KEY);
      i++;
    } else {
      throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, i);
    }
  } while (stack.length > 0);
  return i;
}

/** Validates that `buf` holds exactly one bencoded value and nothing after it. */
export function validate(buf: Uint8Array, limits: ScanLimits = {}): void {
  const end = scanValue(buf, 0, limits);
  if (end !== buf.length) throw new BencodeError(`trailing garbage: ${buf.length - end} bytes after the value`, end);
}

/** Decodes exactly one value; anything malformed throws a BencodeError. */
export function decode(buf: Uint8Array, limits: ScanLimits = {}): BValue {
  validate(buf, limits);
  return bencode.decode(buf) as BValue;
}

/**
 * Decodes the value at the start of `buf` and returns where it ends, for
 * messages that carry raw bytes after a dict (BEP 9 metadata data).
 */
export function decodePrefix(buf: Uint8Array, limits: ScanLimits = {}): { value: BValue; end: number } {
  const end = scanValue(buf, 0, limits);
  return { value: bencode.decode(buf, 0, end) as BValue, end };
}

/** Encodes a value; dictionary keys are sorted as raw bytes by the package. */
export function encode(value: unknown): Uint8Array {
  return bencode.encode(value);
}

export interface RawDictEntry {
  /** The key's raw bytes (may not be UTF-8, e.g. info-hashes in scrape replies). */
  key: Uint8Array;
  value: Span;
}

/**
 * The entries of the dictionary at `start`, with raw keys and value spans.
 * The input must already have passed `scanValue`.
 */
export function dictEntries(buf: Uint8Array, start = 0): RawDictEntry[] {
  if (buf[start] !== CH_D) throw new BencodeError('not a dictionary', start);
  const out: RawDictEntry[] = [];
  let i = start + 1;
  while (buf[i] !== CH_E) {
    if (i >= buf.length) throw new BencodeError('truncated dictionary', i);
    const [ks, ke] = scanString(buf, i);
    const vEnd = scanValue(buf, ke);
    out.push({ key: buf.subarray(ks, ke), value: { start: ke, end: vEnd } });
    i = vEnd;
  }
  return out;
}

/** The span of `key`'s value in the top-level dictionary, or undefined. */
export function dictValueSpan(buf: Uint8Array, key: string, start = 0): Span | undefined {
  const want = Buffer.from(key, 'utf8');
  for (const e of dictEntries(buf, start)) {
    if (Buffer.compare(e.key, want) === 0) return e.value;
  }
  return undefined;
}

// Type guards used by every parser of decoded values.
export function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
export function isBytes(v: BValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}
export function isInt(v: BValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
export function isList(v: BValue | undefined): v is BValue[] {
  return Array.isArray(v);
}
