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

/**
 * Columns `text` takes on a terminal: East Asian wide and fullwidth
 * characters and most emoji take two, combining marks and zero-width
 * characters none (names of torrents are often Chinese, Japanese or
 * Korean: counted as one column each, the line would wrap).
 */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(cp: number): number {
  if (cp === 0x200b || cp === 0x200c || cp === 0x200d || cp === 0xfeff) return 0;
  if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe20 && cp <= 0xfe2f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** `text` cut to at most `width` columns, with `…` when something was cut. */
export function cutToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

/** Fits fields into `width` columns: drops the least kept first, then cuts what is left. */
export function fitFields(fields: readonly StatusField[], width: number): string {
  const live = [...fields];
  const join = (fs: readonly StatusField[]): string => fs.map((f) => f.text).join('  ');
  while (live.length > 1 && displayWidth(join(live)) > width) {
    let drop = 0;
    for (let i = 1; i < live.length; i++) if (live[i]!.keep < live[drop]!.keep) drop = i;
    live.splice(drop, 1);
  }
  return cutToWidth(join(live), Math.max(1, width));
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
