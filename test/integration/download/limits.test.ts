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
});
