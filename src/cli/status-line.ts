/**
 * The one status line of a running seed/leech on stderr (issue 16): it fits
 * the terminal (fields are dropped in a fixed order, it never wraps), and
 * anything else written to stderr while it shows (a log line, a warning)
 * goes above it: the line is cleared, the text written, the line drawn
 * again. When stderr is not a terminal nothing is redrawn: `summary()`
 * lines are printed every few seconds instead (as aria2c's
 * --summary-interval), plain text a log file can keep.
 */

/** One field of the line; fields with a lower `keep` are dropped first when the line is too wide. */
export interface StatusField {
  text: string;
  keep: number;
}

/** Fits fields into `width` columns: drops the least kept first, then cuts the first field. */
export function fitFields(fields: readonly StatusField[], width: number): string {
  const live = [...fields];
  const join = (fs: readonly StatusField[]): string => fs.map((f) => f.text).join('  ');
  while (live.length > 1 && join(live).length > width) {
    let drop = 0;
    for (let i = 1; i < live.length; i++) if (live[i]!.keep < live[drop]!.keep) drop = i;
    live.splice(drop, 1);
  }
  const line = join(live);
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) + '…' : line;
}

export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #write: NodeJS.WriteStream['write'];
  #line = '';
  #active = false;
  #closed = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#write = stream.write.bind(stream) as NodeJS.WriteStream['write'];
  }

  /** A live line is drawn only on a terminal. */
  get live(): boolean {
    return this.#stream.isTTY === true;
  }

  get #width(): number {
    return Math.max(20, (this.#stream.columns ?? 80) - 1);
  }

  /** Shows `fields` as the line (on a terminal; elsewhere it does nothing). */
  show(fields: readonly StatusField[]): void {
    if (!this.live || this.#closed) return;
    if (!this.#active) this.#intercept();
    this.#line = fitFields(fields, this.#width);
    this.#write(`\r\x1b[2K${this.#line}`);
  }

  /** Prints one plain line (the summary every few seconds when stderr is not a terminal). */
  summary(fields: readonly StatusField[]): void {
    this.#write(`${fields.map((f) => f.text).join('  ')}\n`);
  }

  /** Removes the line and lets stderr be; idempotent. True when a line was on screen. */
  clear(): boolean {
    if (!this.#active) return false;
    this.#active = false;
    (this.#stream as { write: unknown }).write = this.#write;
    const shown = this.#line !== '';
    if (shown) this.#write('\r\x1b[2K');
    this.#line = '';
    return shown;
  }

  /** Removes the line for good: later `show()` calls draw nothing (the run is ending). True when a line was on screen. */
  close(): boolean {
    this.#closed = true;
    return this.clear();
  }

  /** Other writes to the stream go above the line. */
  #intercept(): void {
    this.#active = true;
    const write = this.#write;
    const self = this;
    (this.#stream as { write: unknown }).write = function (chunk: unknown, ...rest: unknown[]): boolean {
      if (!self.#line) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      write('\r\x1b[2K');
      const ok = (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      write(self.#line);
      return ok;
    };
  }
}
