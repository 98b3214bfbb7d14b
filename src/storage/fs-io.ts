/** Small helpers of the file-backed store: errno codes, and fs failures as StorageErrors naming the file. */
import { StorageError, errorMessage } from '../errors.js';

export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Runs `fn`; a failure other than a StorageError becomes `<what> <p> failed: <reason>`. */
export async function storageIo<T>(p: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`${what} ${p} failed: ${errorMessage(err)}`, { cause: err });
  }
}
