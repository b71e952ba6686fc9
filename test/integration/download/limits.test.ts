import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';

const PART = 64 * 1024;
const config = (downloads: Record<string, unknown> = {}, proxy: Record<string, unknown> = {}) => ({ downloads: { part_size: PART, max_retries: 2, ...downloads }, proxy: { backoff_init: 0.1, backoff_max: 0.2, ...proxy } });

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
});

describe('download limits and timeouts', () => {
  it('keeps a job under its own rate limit, given with a suffix (256K)', async () => {
    const origin = await startOrigin();
    const h = await startHarness(config());
    const f = origin.addFile('rl.bin', 640 * 1024);
    const rate = 256 * 1024;
    const id = await h.add({ url: origin.url('rl.bin'), sha256: f.sha256, max_rate: '256K' });
    const started = Date.now();
    const mid = await h.wait(id, (j) => j.bytes >= 300 * 1024 || j.state !== 'active');
    // An upper bound only (a slow machine can only be slower): elapsed time × rate plus the burst.
    expect(mid.bytes).toBeLessThanOrEqual(((Date.now() - started) / 1000) * rate + 2 * PART);
    expect(mid.max_rate).toBe(rate);
    expect((await h.wait(id)).state).toBe('done');
    expect(sha256File(join(h.dir, 'rl.bin'))).toBe(f.sha256);
  });

  it('aborts a response that stalls longer than downloads.idle_timeout and resumes where it stalled', async () => {
    const origin = await startOrigin();
    const h = await startHarness(config({ idle_timeout: 0.5, max_retries: 5 }));
    const f = origin.addFile('stall.bin', 256 * 1024);
    // 1 KiB, then nothing for ~17 minutes.
    origin.switches.throttleBps = 1;
    origin.switches.throttleChunk = 1024;
    const id = await h.add({ url: origin.url('stall.bin'), sha256: f.sha256 });
    await waitFor('a retry after the idle timeout', () => origin.requests.filter((r) => r.path === '/stall.bin').length >= 2);
    origin.switches.throttleBps = 0;
    expect((await h.wait(id)).state).toBe('done');
    expect(origin.rangeStarts('stall.bin')[0]).toBe(1024);
    expect(sha256File(join(h.dir, 'stall.bin'))).toBe(f.sha256);
  });

  it('aborts a transfer under proxy.low_speed_limit and retries it at the same offset, after the backoff', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('slow.bin', 256 * 1024);
    origin.switches.throttleBps = 2048;
    origin.switches.throttleChunk = 1024;
    const h = await startHarness(config({ max_retries: 5 }, { low_speed_limit: 64 * 1024, timeout_direct: 1, health_check: false }));
    const id = await h.add({ url: origin.url('slow.bin'), sha256: f.sha256 });
    await waitFor('a retry after a slow transfer', () => origin.requests.filter((r) => r.path === '/slow.bin').length >= 2, { timeoutMs: 15_000 });
    origin.switches.throttleBps = 0;
    expect((await h.wait(id)).state).toBe('done');
    expect(origin.rangeStarts('slow.bin')[0]).toBeGreaterThan(0);
    expect(h.logs().some((l) => l.blame === 'slow' && l.action === 'retry')).toBe(true);
    expect(h.delays[0]).toBe(100);
    expect(sha256File(join(h.dir, 'slow.bin'))).toBe(f.sha256);
  });

  it('applies downloads.max_rate globally, and a reload lifts it for the job in flight', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('g.bin', 1024 * 1024);
    const rate = 64 * 1024;
    const h = await startHarness(config({ max_rate: '64K' }));
    const id = await h.add({ url: origin.url('g.bin'), sha256: f.sha256 });
    const started = Date.now();
    const mid = await h.wait(id, (j) => j.bytes >= 64 * 1024);
    expect(mid.bytes).toBeLessThanOrEqual(((Date.now() - started) / 1000) * rate + 2 * PART);
    await h.reload(config({ max_rate: 0 }));
    // At 64 KiB/s the rest would take ~30 s.
    expect((await h.wait(id, undefined, 15_000)).state).toBe('done');
    expect(sha256File(join(h.dir, 'g.bin'))).toBe(f.sha256);
  });
});
