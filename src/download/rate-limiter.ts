import { setTimeout as delay } from 'node:timers/promises';
/**
 * A byte-rate limiter on a virtual clock: each `take(n)` books n bytes after the
 * bytes already booked and waits until their slot, allowing a short burst. The
 * caller does not read the next chunk while it waits, so TCP backpressure
 * slows the sender. Rate 0 = unlimited. Waits end early on abort.
 */
const BURST_MS = 100;

export class RateLimiter {
  #rate: number;
  #next = 0;

  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
  }

  get rate(): number {
    return this.#rate;
  }

  setRate(bytesPerSecond: number): void {
    this.#rate = bytesPerSecond;
    this.#next = 0;
  }

  /** Milliseconds to wait before n more bytes may pass (and books them). */
  book(n: number, now = performance.now()): number {
    if (this.#rate <= 0) return 0;
    const start = Math.max(now - BURST_MS, this.#next);
    this.#next = start + (n / this.#rate) * 1000;
    return Math.max(0, this.#next - now);
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    const wait = this.book(n);
    if (wait > 0) await sleep(wait, signal);
  }
}

/** node:timers/promises' setTimeout, rejecting with the signal's own reason (a pause or a cancel) rather than a generic AbortError. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    throw signal?.aborted ? (signal.reason as Error) : err;
  }
}
