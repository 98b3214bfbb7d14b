/**
 * Typed event emitters. Event names are `noun:verb` (STYLE.md habit 8).
 * The core emits; the CLI, API and metrics listen.
 */
import { EventEmitter } from 'node:events';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = Record<string, any>;

/** An EventEmitter whose `on`/`emit` are checked against an event map `{ name: payload }`. */
export class TypedEmitter<E extends EventMap> {
  readonly #ee = new EventEmitter();
  constructor() {
    this.#ee.setMaxListeners(100);
  }
  on<K extends keyof E & string>(name: K, listener: (payload: E[K]) => void): this {
    this.#ee.on(name, listener);
    return this;
  }
  once<K extends keyof E & string>(name: K, listener: (payload: E[K]) => void): this {
    this.#ee.once(name, listener);
    return this;
  }
  off<K extends keyof E & string>(name: K, listener: (payload: E[K]) => void): this {
    this.#ee.off(name, listener);
    return this;
  }
  emit<K extends keyof E & string>(name: K, payload: E[K]): boolean {
    return this.#ee.emit(name, payload);
  }
  listenerCount<K extends keyof E & string>(name: K): number {
    return this.#ee.listenerCount(name);
  }
  removeAllListeners(): void {
    this.#ee.removeAllListeners();
  }
}
