/**
 * The one polling helper of the tests. Prefer waiting for an event; poll
 * only state that announces nothing (a file, a counter, an HTTP answer).
 */

/**
 * Calls `check` every `everyMs` until it returns something other than
 * undefined or false, and resolves with that; rejects after `ms` naming
 * `what`.
 */
export async function pollUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
