import { describe, expect, it } from 'vitest';
import { RateLimiter, sliceUnder } from '../../../src/download/rate-limiter.js';

describe('rate limiter', () => {
  it('lets bytes through at once when unlimited', () => {
    expect(new RateLimiter(0).book(1e9, 0)).toBe(0);
  });

  it('books bytes on a virtual clock after a short burst', () => {
    const r = new RateLimiter(1000);
    expect(r.book(100, 1000)).toBe(0); // within the burst
    expect(r.book(1000, 1000)).toBeCloseTo(1000, 0);
    expect(r.book(500, 1000)).toBeCloseTo(1500, 0);
  });

  it('passes a burst of the tightest limit at a time, never less than 1 KiB', () => {
    expect(sliceUnder(new RateLimiter(0), new RateLimiter(0))).toBe(Infinity);
    expect(sliceUnder(new RateLimiter(64 * 1024), new RateLimiter(1024 * 1024))).toBe(6553);
    expect(sliceUnder(new RateLimiter(100))).toBe(1024);
  });

  it('frees a waiting take at once when the limit is lifted', async () => {
    const r = new RateLimiter(1024);
    r.book(1024 * 1024); // a thousand seconds booked ahead
    const took = r.take(1024);
    let done = false;
    void took.then(() => (done = true));
    await new Promise((res) => setImmediate(res));
    expect(done).toBe(false);
    r.setRate(0);
    await took; // the test's timeout is the deadline
    expect(done).toBe(true);
  });

  it('rejects a waiting take with the abort reason (a pause), not a generic AbortError', async () => {
    const r = new RateLimiter(1024);
    r.book(1024 * 1024);
    const ctrl = new AbortController();
    const took = r.take(1024, ctrl.signal);
    ctrl.abort(new Error('paused'));
    await expect(took).rejects.toThrow('paused');
  });
});
