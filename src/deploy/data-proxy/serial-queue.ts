/**
 * Runs tasks one at a time, in arrival order: the seed's mutex around every
 * NoteStore call. A task starts only once the previous one has settled, even
 * if it awaits; a failed task does not stop the queue.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Tasks queued or running. */
  get pending(): number {
    return this.#pending;
  }

  run<T>(task: () => T | Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(() => task());
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tail = settled.then(() => {
      this.#pending--;
    });
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await this.#tail;
  }
}
