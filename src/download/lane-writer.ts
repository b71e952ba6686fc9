import type { PartialFile } from './partial-file.js';

/**
 * The writes of one connection into `<dest>.partial`: the body's chunks are
 * gathered (no copy) into runs of about BATCH bytes and written with one
 * pwritev each, several in flight at once (the thread pool), at most
 * MAX_IN_FLIGHT bytes: beyond that `add` waits, the body is not read, and TCP
 * slows the sender. `written(offset, length)` is told of each run once it is in
 * the file, in the order the runs were issued (a part's hash follows its bytes
 * that way). The first write error is thrown by the next call.
 */

const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 8 * 1024 * 1024;

export class LaneWriter {
  readonly #file: PartialFile;
  readonly #written: (offset: number, length: number) => void;
  #batch: Buffer[] = [];
  #batchStart = 0;
  #batchBytes = 0;
  readonly #inFlight: Array<{ done: Promise<void>; bytes: number }> = [];
  #inFlightBytes = 0;
  /** Settles after the last run issued was reported (runs are reported in issue order). */
  #reported: Promise<void> = Promise.resolve();
  #error: unknown = null;

  constructor(file: PartialFile, written: (offset: number, length: number) => void = () => undefined) {
    this.#file = file;
    this.#written = written;
  }

  /**
   * Queues `chunk` for `position` (the chunk must not change afterwards). Resolves at
   * once unless too much is in flight.
   */
  add(chunk: Buffer, position: number): Promise<void> | undefined {
    if (this.#error !== null) throw this.#error;
    if (this.#batchBytes > 0 && position !== this.#batchStart + this.#batchBytes) this.#issue();
    if (this.#batchBytes === 0) this.#batchStart = position;
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    if (this.#batchBytes >= BATCH) this.#issue();
    return this.#inFlightBytes > MAX_IN_FLIGHT ? this.#waitOldest() : undefined;
  }

  /** Ends the current run here (a part boundary: a run never spans two parts). */
  cut(): void {
    this.#issue();
  }

  async #waitOldest(): Promise<void> {
    while (this.#inFlightBytes > MAX_IN_FLIGHT) await this.#inFlight[0]!.done;
    if (this.#error !== null) throw this.#error;
  }

  #issue(): void {
    if (this.#batchBytes === 0) return;
    const bytes = this.#batchBytes;
    const start = this.#batchStart;
    const entry = { done: Promise.resolve(), bytes };
    const write = this.#file.write(this.#batch, start).then(
      () => undefined,
      (err: unknown) => {
        this.#error ??= err;
      },
    );
    const failed = (): boolean => this.#error !== null;
    this.#reported = Promise.all([this.#reported, write]).then(() => {
      if (failed()) return;
      try {
        this.#written(start, bytes);
      } catch (err) {
        this.#error ??= err;
      }
    });
    entry.done = write.then(() => this.#retire(entry));
    this.#inFlight.push(entry);
    this.#inFlightBytes += bytes;
    this.#batch = [];
    this.#batchBytes = 0;
  }

  #retire(entry: { done: Promise<void>; bytes: number }): void {
    const i = this.#inFlight.indexOf(entry);
    if (i >= 0) this.#inFlight.splice(i, 1);
    this.#inFlightBytes -= entry.bytes;
  }

  /** Writes what is gathered and waits for every run issued so far (and its report); throws the first error. */
  async flush(): Promise<void> {
    this.#issue();
    await this.#reported;
    if (this.#error !== null) throw this.#error;
  }

  /** As flush(), never throwing (a lane ending on an error still lets its writes land). */
  async settle(): Promise<void> {
    this.#issue();
    await this.#reported;
  }
}
