/**
 * Time as the session reads it: a function returning milliseconds since
 * the epoch, injected so that policies with deadlines (backoff, PEX memory,
 * eviction) can be tested with a fake clock. The same shape as the DHT's
 * `now` option.
 */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** A clock a test moves by hand. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function fakeClock(start = 0): FakeClock {
  let t = start;
  const clock = (() => t) as FakeClock;
  clock.advance = (ms) => void (t += ms);
  clock.set = (ms) => void (t = ms);
  return clock;
}
