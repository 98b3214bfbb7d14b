/** Abort-signal helpers (STYLE.md habit 9). */

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Combines signals (undefined entries ignored) with an optional timeout. The
 * timeout is a timer of our own, not AbortSignal.timeout: inside
 * AbortSignal.any, Node 20 may garbage-collect that signal before it fires
 * (nodejs/node#48951), and the bound then never comes (a DHT leave bounded
 * at 5 s ran 20-50 s). The timer holds its controller until it fires; it
 * does not keep the process alive.
 */
export function anySignal(signals: (AbortSignal | undefined)[], timeoutMs?: number): AbortSignal {
  const list = signals.filter((s): s is AbortSignal => s !== undefined);
  if (timeoutMs !== undefined) {
    const timeout = new AbortController();
    setTimeout(() => timeout.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs).unref();
    list.push(timeout.signal);
  }
  return AbortSignal.any(list);
}
