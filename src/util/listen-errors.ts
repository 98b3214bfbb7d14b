/**
 * The one mapping from a failed bind to what the user reads: a port someone
 * else holds, or a host that is not ours, is bad input (exit 2) with a hint
 * naming the option that fixes it; anything else is passed on unchanged.
 */
import { UsageError } from '../errors.js';

export interface ListenFailureWords {
  /** What could not be bound, as the user knows it: `API port 8080 on 127.0.0.1`. */
  what: string;
  /** How to pick another: `choose another with --api PORT`. */
  fix: string;
  /** The host as the user gave it (`--host 10.1.2.3`); without it EADDRNOTAVAIL is passed on. */
  host?: string;
}

/** True when `err` says the address (host and port) is already bound. */
export function isAddressInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** `err` as the user should see it: a `UsageError` for a port in use or a host not of this machine, else `err` itself. */
export function listenError(err: unknown, words: ListenFailureWords): unknown {
  if (isAddressInUse(err)) return new UsageError(`${words.what} is in use: ${words.fix}`, { cause: err });
  if (words.host !== undefined && (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRNOTAVAIL') {
    return new UsageError(`${words.host} is not an address of this machine`, { cause: err });
  }
  return err;
}
