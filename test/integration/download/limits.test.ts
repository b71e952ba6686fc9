import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent, type TestAgent } from '../../helpers/agent.js';
import { closeOrigins, startOrigin, type TestOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { add, sha256File, waitJob } from './helpers.js';

const PART = 64 * 1024;
const config = (extra: Record<string, unknown> = {}) => ({ downloads: { part_size: PART, max_retries: 2, ...extra } });

afterEach(async () => {
  await cleanupAgents();
  await closeOrigins();
});

async function setup(extra: Record<string, unknown> = {}): Promise<{ agent: TestAgent; origin: TestOrigin; dir: string }> {
  const origin = await startOrigin();
  const agent = await startAgent({ config: config(extra), logLevel: 'info' });
  return { agent, origin, dir: join(agent.stateDir, 'downloads') };
}

describe('download limits and timeouts', () => {
  it('keeps a job under its own rate limit', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('rl.bin', 1024 * 1024);
    const rate = 256 * 1024;
    const id = await add(agent, { url: origin.url('rl.bin'), sha256: f.sha256, max_rate: rate });
    const started = Date.now();
    const mid = await waitJob(agent, id, (j) => j.bytes >= 300 * 1024 || j.state !== 'active');
    // An upper bound only (a slow machine can only be slower): elapsed time × rate plus the burst.
    expect(mid.bytes).toBeLessThanOrEqual(((Date.now() - started) / 1000) * rate + 2 * PART);
    expect(mid.max_rate).toBe(rate);
    expect((await waitJob(agent, id)).state).toBe('done');
    expect(sha256File(join(dir, 'rl.bin'))).toBe(f.sha256);
  });

  it('aborts a response that stalls longer than downloads.idle_timeout and resumes where it stalled', async () => {
    const origin = await startOrigin();
    const agent = await startAgent({ config: config({ idle_timeout: 0.5, max_retries: 5 }), logLevel: 'info' });
    const f = origin.addFile('stall.bin', 256 * 1024);
    // 1 KiB, then nothing for ~17 minutes.
    origin.switches.throttleBps = 1;
    origin.switches.throttleChunk = 1024;
    const id = await add(agent, { url: origin.url('stall.bin'), sha256: f.sha256 });
    await waitFor('a retry after the idle timeout', () => origin.requests.filter((r) => r.path === '/stall.bin').length >= 2);
    origin.switches.throttleBps = 0;
    expect((await waitJob(agent, id)).state).toBe('done');
    expect(origin.rangeStarts('stall.bin')[0]).toBe(1024);
    expect(sha256File(join(agent.stateDir, 'downloads', 'stall.bin'))).toBe(f.sha256);
  });

  it('aborts a transfer under proxy.low_speed_limit and retries it at the same offset', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('slow.bin', 256 * 1024);
    origin.switches.throttleBps = 2048;
    origin.switches.throttleChunk = 1024;
    const agent = await startAgent({
      config: { downloads: { part_size: PART, max_retries: 5 }, proxy: { low_speed_limit: 64 * 1024, timeout_direct: 1, backoff_init: 0.1, backoff_max: 0.2, health_check: false } },
      logLevel: 'info',
    });
    const id = await add(agent, { url: origin.url('slow.bin'), sha256: f.sha256 });
    await waitFor('a retry after a slow transfer', () => origin.requests.filter((r) => r.path === '/slow.bin').length >= 2, { timeoutMs: 15_000 });
    origin.switches.throttleBps = 0;
    expect((await waitJob(agent, id)).state).toBe('done');
    expect(origin.rangeStarts('slow.bin')[0]).toBeGreaterThan(0);
    expect(agent.stdout() + agent.stderr()).toMatch(/"kind":"slow"/);
    expect(sha256File(join(agent.stateDir, 'downloads', 'slow.bin'))).toBe(f.sha256);
  });

  it('applies downloads.max_rate globally, and a reload lifts it for the job in flight', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('g.bin', 2 * 1024 * 1024);
    const rate = 64 * 1024;
    const agent = await startAgent({ config: config({ max_rate: rate }) });
    const id = await add(agent, { url: origin.url('g.bin'), sha256: f.sha256 });
    const started = Date.now();
    const mid = await waitJob(agent, id, (j) => j.bytes >= 64 * 1024);
    expect(mid.bytes).toBeLessThanOrEqual(((Date.now() - started) / 1000) * rate + 2 * PART);
    agent.writeConfig(config({ max_rate: 0 }));
    await agent.rpc('agent.reload', {});
    // At 64 KiB/s the rest would take ~30 s.
    expect((await waitJob(agent, id, undefined, 15_000)).state).toBe('done');
    expect(sha256File(join(agent.stateDir, 'downloads', 'g.bin'))).toBe(f.sha256);
  });
});
