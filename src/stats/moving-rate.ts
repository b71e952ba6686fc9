/**
 * Events per second over moving 1 s and 10 s windows, from a ring of
 * per-second buckets. `mark()` is a plain add so hot paths (per message, per
 * chunk) stay cheap; the registry's one-second tick closes the bucket.
 */
export const RATE_WINDOW_S = 10;

export class MovingRate {
  total = 0;
  #current = 0;
  readonly #ring = new Float64Array(RATE_WINDOW_S);
  #head = 0; // index of the most recently closed bucket
  #closed = 0; // buckets closed so far, capped at the window

  mark(n = 1): void {
    this.#current += n;
    this.total += n;
  }

  /** Closes the current one-second bucket. Called by the registry's ticker. */
  tick(): void {
    this.#head = (this.#head + 1) % RATE_WINDOW_S;
    this.#ring[this.#head] = this.#current;
    this.#current = 0;
    if (this.#closed < RATE_WINDOW_S) this.#closed++;
  }

  /** Events in the last closed second. */
  rate1s(): number {
    return this.#closed === 0 ? 0 : this.#ring[this.#head]!;
  }

  /** Mean events per second over the last ten closed seconds (fewer right after start). */
  rate10s(): number {
    if (this.#closed === 0) return 0;
    let sum = 0;
    for (let i = 0; i < this.#closed; i++) sum += this.#ring[(this.#head - i + RATE_WINDOW_S) % RATE_WINDOW_S]!;
    return sum / this.#closed;
  }
}
