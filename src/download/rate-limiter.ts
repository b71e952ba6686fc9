import { setTimeout as delay } from 'node:timers/promises';
/**
 * A byte-rate limiter on a virtual clock: each `take(n)` books n bytes after the
 * bytes already booked and waits until their slot, allowing a short burst. The
 * caller does not read the next chunk while it waits, so TCP backpressure
 * slows the sender. Rate 0 = unlimited. Waits end early on abort, and on a rate
 * change (a reload that lifts a limit frees the waiting lanes at once).
 */
const BURST_MS = 100;
/** The smallest slice worth a timer: below it a limit is kept by waiting longer, not more often. */
const MIN_SLICE = 1024;

export class RateLimiter {
  #rate: number;
  #next = 0;
  #changed = new AbortController();

  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
  }

  get rate(): number {
    return this.#rate;
  }

  setRate(bytesPerSecond: number): void {
    this.#rate = bytesPerSecond;
    this.#next = 0;
    this.#changed.abort();
    this.#changed = new AbortController();
  }

  /** Milliseconds to wait before n more bytes may pass (and books them). */
  book(n: number, now = performance.now()): number {
    if (this.#rate <= 0) return 0;
    const start = Math.max(now - BURST_MS, this.#next);
    this.#next = start + (n / this.#rate) * 1000;
    return Math.max(0, this.#next - now);
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.book(n);
      if (wait <= 0) return;
      const changed = this.#changed.signal;
      try {
        await sleep(wait, signal ? AbortSignal.any([signal, changed]) : changed);
        return;
      } catch (err) {
        if (signal?.aborted || !changed.aborted) throw err;
        // The rate changed while this waited: book the bytes again under the new one.
      }
    }
  }
}

/**
 * How many bytes to pass at once under these limiters: a burst's worth of the
 * tightest, so a large chunk is written (and counted) in steps instead of after
 * one long wait. Infinity when none limits.
 */
export function sliceUnder(...limiters: RateLimiter[]): number {
  let slice = Infinity;
  for (const l of limiters) if (l.rate > 0) slice = Math.min(slice, Math.max(MIN_SLICE, Math.floor((l.rate * BURST_MS) / 1000)));
  return slice;
}

/** node:timers/promises' setTimeout, rejecting with the signal's own reason (a pause or a cancel) rather than a generic AbortError. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    throw signal?.aborted ? (signal.reason as Error) : err;
  }
}
