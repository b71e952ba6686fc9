import type { HashStream } from './hash-worker.js';

/**
 * The parts of one file: fixed ranges of `partSize` bytes (the last one shorter),
 * the unit a connection fetches and a store makes durable. Each part is
 *
 *   free → claimed by a lane (bytes arriving: `written` grows from its start)
 *        → complete (written == length) → held (durable: journaled, or a BLOB)
 *
 * A part a lane let go of mid-way keeps its `written` bytes (they are in
 * `<dest>.partial`), so the next request for it starts where they end. While
 * the size is unknown (no Content-Length) parts are added as the one stream
 * passes them, and `finishAt` fixes the size when it ends.
 */

export interface Part {
  readonly index: number;
  readonly offset: number;
  length: number;
  /** Bytes from the part's start handed to the file (their writes issued). */
  written: number;
  held: boolean;
  /** Complete and handed to the committer (held once it committed). */
  queued: boolean;
  /** The lane fetching it, or -1. */
  lane: number;
  /** The part's bytes so far, for a store that keeps them (sqlite). */
  data: Buffer | null;
  /** Its SHA-256 so far, fed (in a hash worker) as its bytes land in the file; null = to be hashed at commit. */
  hash: HashStream | null;
}

/** Consecutive parts one request covers: `[first, last]`, from `first`'s written bytes on. */
export interface Run {
  readonly first: number;
  readonly last: number;
}

export class PartMap {
  readonly partSize: number;
  #total: number | null;
  readonly parts: Part[] = [];

  constructor(partSize: number, total: number | null) {
    this.partSize = partSize;
    this.#total = total;
    if (total !== null) for (let i = 0; i * partSize < total; i++) this.#add(i);
  }

  get total(): number | null {
    return this.#total;
  }

  #add(i: number): Part {
    const offset = i * this.partSize;
    const length = this.#total === null ? this.partSize : Math.min(this.partSize, this.#total - offset);
    const p: Part = { index: i, offset, length, written: 0, held: false, queued: false, lane: -1, data: null, hash: null };
    this.parts[i] = p;
    return p;
  }

  /** The part holding byte `offset` (created while the size is unknown). */
  at(offset: number): Part {
    const i = Math.floor(offset / this.partSize);
    while (this.parts.length <= i) this.#add(this.parts.length);
    return this.parts[i]!;
  }

  /**
   * The size is now known: parts are laid out up to it (nothing may be held or
   * written beyond it; the caller checked).
   */
  setTotal(total: number): void {
    this.#total = total;
    const count = Math.ceil(total / this.partSize);
    this.parts.length = Math.min(this.parts.length, count);
    for (let i = 0; i < count; i++) {
      const p = this.parts[i] ?? this.#add(i);
      p.length = Math.min(this.partSize, total - p.offset);
    }
  }

  /** The stream ended at `total` without announcing a size: that is the size. */
  finishAt(total: number): void {
    this.setTotal(total);
  }

  /** Bytes held durably. */
  heldBytes(): number {
    let n = 0;
    for (const p of this.parts) if (p.held) n += p.length;
    return n;
  }

  /** Bytes in the file so far: held parts plus what arrived of the others. */
  receivedBytes(): number {
    let n = 0;
    for (const p of this.parts) n += p.held ? p.length : p.written;
    return n;
  }

  /** Every part held (and the size known). */
  complete(): boolean {
    return this.#total !== null && this.parts.every((p) => p.held);
  }

  /** Nothing held and nothing written: a 200 body may become the whole file as it is. */
  untouched(): boolean {
    return this.parts.every((p) => !p.held && p.written === 0);
  }

  /** Parts that still need bytes and no lane has. */
  freeCount(): number {
    let n = 0;
    for (const p of this.parts) if (!p.held && p.lane < 0 && p.written < p.length) n++;
    return n;
  }

  /**
   * Claims work for `lane`: the first free part, and with `sequential` every free
   * part after it up to the next held or claimed one (one request for the run).
   * While the size is unknown the run is open-ended (`last` = -1).
   */
  claim(lane: number, sequential: boolean): Run | null {
    let first = -1;
    for (const p of this.parts) {
      if (!p.held && p.lane < 0 && p.written < p.length) {
        first = p.index;
        break;
      }
    }
    if (first < 0) {
      if (this.#total !== null) return null;
      first = this.parts.length;
      this.#add(first);
    }
    let last = first;
    this.parts[first]!.lane = lane;
    if (sequential) {
      while (last + 1 < this.parts.length) {
        const p = this.parts[last + 1]!;
        if (p.held || p.lane >= 0) break;
        p.lane = lane;
        last++;
      }
      if (this.#total === null && last === this.parts.length - 1) return { first, last: -1 };
    }
    return { first, last };
  }

  /** The lane lets go of its parts that are not complete (stopped, failed, moved on). */
  release(lane: number): void {
    for (const p of this.parts) if (p.lane === lane && p.written < p.length) p.lane = -1;
  }

  /** First byte a run still needs. */
  runStart(run: Run): number {
    const p = this.parts[run.first]!;
    return p.offset + p.written;
  }

  /** Byte after the run's last one, or null while open-ended. */
  runEnd(run: Run): number | null {
    if (run.last < 0) return null;
    const p = this.parts[run.last]!;
    return p.offset + p.length;
  }

  /** Drops everything (restart from byte 0), with a new size if known. */
  reset(total: number | null): void {
    this.parts.length = 0;
    this.#total = total;
    if (total !== null) for (let i = 0; i * this.partSize < total; i++) this.#add(i);
  }
}
