import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../../src/download/job.js';
import { parseJobId } from '../../../src/cli/job-id.js';
import { AgentError, type ControlClient, type Notification } from '../../../src/control/client.js';
import { finalLine, percent, plainLine, progressLine, watchJobs } from '../../../src/ui/progress.js';
import { waitFor } from '../../helpers/wait.js';

const plain = new Chalk({ level: 0 });
const job = (over: Partial<JobView> = {}): JobView => ({
  id: 3, index: null, url: 'http://o/f', sources: [], dest: '/d/f', sha256: null, state: 'active', bytes: 50 * 1024 * 1024, total: 100 * 1024 * 1024,
  speed_bps: 10 * 1024 * 1024, eta_s: 5, proxy: null, connections: 1, active_connections: 1, store: 'file', headers: [], ca_file: null, attempts: 1, resumes: 0, restarts: 0, error: null, max_rate: 0,
  created_at: '2026-01-01T00:00:00.000Z', started_at: null, finished_at: null, ...over,
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
    expect(finalLine(job({ state: 'done', bytes: 1024, finished_at: '2026-01-01T00:00:09.000Z' }))).toBe('download 3: done, 1.00 KiB in 9s → /d/f');
    // The time counts from the transfer's start, not from when the job was queued.
    expect(finalLine(job({ state: 'done', bytes: 1024, started_at: '2026-01-01T00:00:07.000Z', finished_at: '2026-01-01T00:00:09.000Z' }))).toBe('download 3: done, 1.00 KiB in 2s → /d/f');
    expect(finalLine(job({ state: 'failed', error: 'HTTP 404 from o' }))).toBe('download 3: failed: HTTP 404 from o');
    expect(finalLine(job({ state: 'cancelled' }))).toBe('download 3: cancelled');
    expect(finalLine(job({ state: 'paused' }))).toBe('download 3: paused at 50.0 MiB (50.0%); continue it with: proxyctl download resume 3');
  });
  it('prints plain progress lines for logs and pipes', () => {
    expect(plainLine(job())).toBe('download 3: active 50.0% 50.0 MiB/100.0 MiB 10.0 MiB/s ETA 5s');
  });
  it('accepts only positive integer job ids', () => {
    const usage = (m: string): never => {
      throw new Error(m);
    };
    expect(parseJobId('12', usage)).toBe(12);
    for (const bad of ['0', '-1', 'x', '1.5', '']) expect(() => parseJobId(bad, usage)).toThrow(/positive integer/);
  });
});

/** A stand-in for ControlClient: download.info answers from `views`, events are pushed with `emit`. */
function fakeClient(opts: { events: boolean; info: (id: number) => JobView }) {
  const listeners = new Set<(n: Notification) => void>();
  const calls: string[] = [];
  let close: (e: Error) => void = () => undefined;
  const closed = new Promise<Error>((r) => (close = r));
  const client = {
    calls,
    closed,
    close: (e: Error) => close(e),
    onNotification: (fn: (n: Notification) => void) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    call: async (method: string, params: { id?: number }) => {
      calls.push(method);
      if (method === 'events.subscribe') {
        if (!opts.events) throw new AgentError('PXC_ERR_UNKNOWN_COMMAND', 'unknown command "events.subscribe"');
        return { topics: ['download.state', 'download.progress'], seq: 0 };
      }
      return opts.info(params.id!);
    },
    emit: (params: Record<string, unknown>) => {
      for (const fn of listeners) fn({ method: 'event', params });
    },
  };
  return client;
}

describe('watching jobs without a terminal', () => {
  it('says once that a job waits, prints plain lines while it runs, and ends when it pauses (an agent without events, polled)', async () => {
    const states: Array<Partial<JobView>> = [{ state: 'queued', bytes: 0 }, { state: 'queued', bytes: 0 }, { state: 'active' }, { state: 'active' }, { state: 'paused', speed_bps: 0 }];
    let i = 0;
    const client = fakeClient({ events: false, info: () => job(states[Math.min(i++, states.length - 1)]) });
    let out = '';
    const views = await watchJobs(client as unknown as ControlClient, [3], { isTTY: false, write: (s) => void (out += s) }, plain, { intervalMs: 1, lineEveryMs: 1 });
    expect(views[0]!.state).toBe('paused');
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('download 3: queued, waiting for a free slot (downloads.max_active)');
    expect(lines.filter((l) => l.startsWith('download 3: queued'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('download 3: active 50.0%')).length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toBe('download 3: paused at 50.0 MiB (50.0%); continue it with: proxyctl download resume 3');
  });

  it('follows events: reads a job once at the start and once per state change, draws progress from the events, and ignores other jobs', async () => {
    let current: Partial<JobView> = { state: 'active', bytes: 0 };
    const client = fakeClient({ events: true, info: () => job(current) });
    let out = '';
    const watching = watchJobs(client as unknown as ControlClient, [3], { isTTY: true, write: (s) => void (out += s) }, plain);
    await waitFor('subscribed and read', () => client.calls.length === 2);
    client.emit({ topic: 'download.progress', id: 3, bytes: 75 * 1024 * 1024, total: 100 * 1024 * 1024, rate: 5 * 1024 * 1024 });
    await waitFor('progress drawn', () => out.includes(' 75.0%'));
    expect(out).toMatch(/75\.0 MiB\/100\.0 MiB\s+5\.00 MiB\/s\s+ETA 5s/);
    client.emit({ topic: 'download.state', id: 4, state: 'done', previous: 'active', url: 'http://o/g', dest: '/d/g', error: null });
    current = { state: 'failed', error: 'HTTP 404 from o' };
    client.emit({ topic: 'download.state', id: 3, state: 'failed', previous: 'active', url: 'http://o/f', dest: '/d/f', error: 'HTTP 404 from o' });
    const views = await watching;
    expect(views[0]!.state).toBe('failed');
    expect(client.calls).toEqual(['events.subscribe', 'download.info', 'download.info']);
    // The failure is the command's error (reportWatch), not a line of the watch.
    expect(out).not.toMatch(/HTTP 404/);
  });

  it('ends with the agent: the connection closing rejects the watch', async () => {
    const client = fakeClient({ events: true, info: () => job() });
    const watching = watchJobs(client as unknown as ControlClient, [3], { isTTY: false, write: () => undefined }, plain);
    await waitFor('read', () => client.calls.length === 2);
    client.close(new AgentError('PXC_ERR_AGENT_UNREACHABLE', 'the agent closed the connection'));
    await expect(watching).rejects.toThrow(/closed the connection/);
  });
});
