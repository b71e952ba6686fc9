import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../../src/download/job.js';
import { parseJobId } from '../../../src/cli/job-id.js';
import { finalLine, percent, plainLine, progressLine } from '../../../src/ui/progress.js';

const plain = new Chalk({ level: 0 });
const job = (over: Partial<JobView> = {}): JobView => ({
  id: 3, index: null, url: 'http://o/f', sources: [], dest: '/d/f', sha256: null, state: 'active', bytes: 50 * 1024 * 1024, total: 100 * 1024 * 1024,
  speed_bps: 10 * 1024 * 1024, eta_s: 5, proxy: null, connections: 1, active_connections: 1, store: 'file', headers: [], ca_file: null, attempts: 1, resumes: 0, restarts: 0, error: null, max_rate: 0,
  created_at: '2026-01-01T00:00:00.000Z', finished_at: null, ...over,
});

describe('progress rendering', () => {
  it('draws a half-full bar with percent, sizes, speed and ETA', () => {
    const line = progressLine(job(), plain, 10);
    expect(line).toBe('#3 [====>     ]  50.0%  50.0 MiB/100.0 MiB       10.0 MiB/s  ETA 5s     active');
  });
  it('shows no percent and an empty bar while the size is unknown', () => {
    expect(progressLine(job({ total: null, state: 'queued' }), plain, 4)).toMatch(/^#3 \[ {4}\] {6}-  50.0 MiB\/\?/);
    expect(percent(job({ total: null }))).toBeNull();
  });
  it('is 100 % once done, whatever the counters say', () => {
    expect(percent(job({ state: 'done', total: null }))).toBe(100);
  });
  it('ends with one line naming the outcome', () => {
    expect(finalLine(job({ state: 'done', bytes: 1024, finished_at: '2026-01-01T00:00:09.000Z' }))).toBe('job 3 done: 1.00 KiB in 9s → /d/f');
    expect(finalLine(job({ state: 'failed', error: 'HTTP 404 from o' }))).toBe('job 3 failed: HTTP 404 from o');
    expect(finalLine(job({ state: 'cancelled' }))).toBe('job 3 cancelled');
    expect(finalLine(job({ state: 'paused' }))).toBe('job 3 paused at 50.0 MiB (50.0%); continue it with: proxyctl download resume 3');
  });
  it('prints plain progress lines for logs and pipes', () => {
    expect(plainLine(job())).toBe('job 3 active 50.0% 50.0 MiB/100.0 MiB 10.0 MiB/s ETA 5s');
  });
  it('accepts only positive integer job ids', () => {
    const usage = (m: string): never => {
      throw new Error(m);
    };
    expect(parseJobId('12', usage)).toBe(12);
    for (const bad of ['0', '-1', 'x', '1.5', '']) expect(() => parseJobId(bad, usage)).toThrow(/positive integer/);
  });
});

describe('watching jobs without a terminal', () => {
  it('says once that a job waits, prints plain lines while it runs, and ends when it pauses', async () => {
    const { watchJobs } = await import('../../../src/ui/progress.js');
    const states: Array<Partial<JobView>> = [{ state: 'queued', bytes: 0 }, { state: 'queued', bytes: 0 }, { state: 'active' }, { state: 'active' }, { state: 'paused', speed_bps: 0 }];
    let i = 0;
    const client = { call: async () => job(states[Math.min(i++, states.length - 1)]) } as unknown as Parameters<typeof watchJobs>[0];
    let out = '';
    const views = await watchJobs(client, [3], { isTTY: false, write: (s) => void (out += s) }, plain, { intervalMs: 1, lineEveryMs: 1 });
    expect(views[0]!.state).toBe('paused');
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('job 3 queued: waiting for a free slot (downloads.max_active)');
    expect(lines.filter((l) => l.startsWith('job 3 queued'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('job 3 active 50.0%')).length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toBe('job 3 paused at 50.0 MiB (50.0%); continue it with: proxyctl download resume 3');
  });
});
