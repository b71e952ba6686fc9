/**
 * An instance's output, line by line: a splitter for its stdout/stderr chunks
 * and a bounded ring of the last lines for `service logs`.
 */

export interface LogLine {
  /** Epoch ms the line was read. */
  readonly at: number;
  readonly version: number;
  /** The instance's slot among the service's instances (0 when it has one). */
  readonly instance: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/** The last `capacity` lines; older ones are overwritten. */
export class LineRing<T = LogLine> {
  readonly #items: (T | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer (got ${capacity})`);
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The last `n` items (all by default), oldest first. */
  tail(n = this.#size): T[] {
    const count = Math.max(0, Math.min(n, this.#size));
    const out: T[] = [];
    for (let i = this.#size - count; i < this.#size; i++) out.push(this.#items[(this.#next - this.#size + i + this.capacity) % this.capacity]!);
    return out;
  }
}

/**
 * Cuts a byte stream into lines. A line longer than `maxLine` characters is
 * emitted in pieces of that size, so a child that never writes a newline
 * cannot grow the agent's memory. `\r\n` endings lose the `\r`.
 */
export class LineSplitter {
  #partial = '';

  constructor(
    readonly onLine: (line: string) => void,
    readonly maxLine = 8192,
  ) {}

  write(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) break;
      this.#emit(this.#partial + chunk.slice(start, nl));
      this.#partial = '';
      start = nl + 1;
    }
    this.#partial += chunk.slice(start);
    while (this.#partial.length > this.maxLine) {
      this.onLine(this.#partial.slice(0, this.maxLine));
      this.#partial = this.#partial.slice(this.maxLine);
    }
  }

  /** Emits what is left without a final newline (the stream ended). */
  end(): void {
    if (this.#partial !== '') this.#emit(this.#partial);
    this.#partial = '';
  }

  #emit(line: string): void {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.length <= this.maxLine) this.onLine(l);
    else for (let i = 0; i < l.length; i += this.maxLine) this.onLine(l.slice(i, i + this.maxLine));
  }
}
