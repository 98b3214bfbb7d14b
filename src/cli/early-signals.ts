/**
 * Ctrl-C while a long-running `peer` command (seed, leech, start, tracker,
 * dht, fetch) is still loading (on a busy machine, a second or more) exits
 * 0 like a Ctrl-C later on, instead of killing the process by
 * the signal (exit 130 in a shell): nothing has been bound or written yet,
 * so there is nothing to stop. Imported by src/peer.ts before the rest of
 * the program loads.
 *
 * Once a command listens for the signal itself (signals.ts, or its own
 * handler), this one stands back for good: it never cuts a clean stop
 * short, and its mere presence keeps a repeated signal from killing the
 * process while that stop runs.
 */
let handedOver = false;

function onEarlySignal(signal: NodeJS.Signals): void {
  if (handedOver || process.listenerCount(signal) > 1) {
    handedOver = true;
    return;
  }
  process.exit(0);
}

/** The commands that run until stopped; the one-shot ones (info, kv get, message...) keep the default: killed by the signal. */
const LONG_RUNNING = new Set(['seed', 'leech', 'start', 'tracker', 'dht', 'fetch']);
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));

if (command !== undefined && LONG_RUNNING.has(command)) {
  process.on('SIGINT', onEarlySignal);
  process.on('SIGTERM', onEarlySignal);
}
