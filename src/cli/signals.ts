/**
 * Ctrl-C and SIGTERM for the long-running commands: the first one starts a
 * clean stop (trackers told, state saved, exit 0); the ones after it are
 * ignored while that stop runs.
 *
 * Why repeats must be swallowed: `npx peer ...` and `npm start` run us
 * under npm, which forwards the SIGINT it gets itself to its child, right
 * after the terminal sent the same SIGINT to the whole process group. With
 * `process.once`, the second one would meet Node's default disposition and
 * kill us by the signal, and npm would then exit 130 instead of our 0. So
 * the listeners stay on until the process exits.
 */

export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Calls `onStop` on the first SIGINT or SIGTERM, once; later signals do
 * nothing. The returned function detaches it (for a command that finished
 * by itself and returns normally).
 */
export function onStopSignal(onStop: (signal: StopSignal) => void): () => void {
  let fired = false;
  const listener = (signal: StopSignal): void => {
    if (fired) return;
    fired = true;
    onStop(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    // Still stopping: keep swallowing repeats (see above) until the process exits.
    if (fired) return;
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/** Resolves on the first SIGINT or SIGTERM (repeats are swallowed, as above). */
export function stopSignal(): Promise<StopSignal> {
  return new Promise((resolve) => void onStopSignal(resolve));
}
