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

/** A listening host as a user reads it: `every address` for the wildcards, else the address. */
export function hostWords(host: string): string {
  return host === '::' || host === '0.0.0.0' || host === '' ? 'every address' : host;
}

/** The error code of `err` or of the first error in its cause chain that has one. */
function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  }
  return undefined;
}

/**
 * True when `err` says the address (host and port) is already bound: its
 * code, its cause's, or a wrapping error that kept only the system text
 * (`tracker: cannot bind UDP ...: bind EADDRINUSE ...`).
 */
export function isAddressInUse(err: unknown): boolean {
  return codeOf(err) === 'EADDRINUSE' || (err instanceof Error && /\bEADDRINUSE\b/.test(err.message));
}

/** True when a name given as a host resolved to no address (`getaddrinfo ENOTFOUND name`). */
function isUnknownHost(err: unknown): boolean {
  const code = codeOf(err) ?? (err as { code?: string } | undefined)?.code;
  return code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_NODATA' || code === 'EAI_AGAIN' || code === 'EAI_FAIL';
}

/** `err` as the user should see it: a `UsageError` for a port in use or a host not of this machine, else `err` itself. */
export function listenError(err: unknown, words: ListenFailureWords): unknown {
  if (isAddressInUse(err)) return new UsageError(`${words.what} is in use: ${words.fix}`, { cause: err });
  if (words.host !== undefined && (codeOf(err) === 'EADDRNOTAVAIL' || (err instanceof Error && /\bEADDRNOTAVAIL\b/.test(err.message)))) {
    return new UsageError(`${words.host} is not an address of this machine: give one of its own (or leave --host out to use every address)`, { cause: err });
  }
  if (words.host !== undefined && isUnknownHost(err)) {
    return new UsageError(`${words.host}: unknown host (no address found for this name): check the spelling, or give an address of this machine such as 127.0.0.1`, { cause: err });
  }
  return err;
}
