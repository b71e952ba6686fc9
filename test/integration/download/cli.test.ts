import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { add, sha256File, waitJob } from './helpers.js';

const PART = 256 * 1024;
const config = { downloads: { part_size: PART } };

afterEach(async () => {
  await cleanupAgents();
  await closeOrigins();
});

describe('proxyctl download', () => {
  it('add --sha256 --wait exits 0 once the file matches, printing the id and one final line when not a TTY', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('w.bin', 8 * 1024 * 1024);
    const agent = await startAgent({ config });
    const r = await agent.cli(['download', 'add', origin.url('w.bin'), '--sha256', f.sha256, '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('1');
    expect(lines[1]).toMatch(/^job 1 done: 8.00 MiB in \S+ → .*w\.bin$/);
    expect(lines).toHaveLength(2);
    expect(sha256File(join(agent.stateDir, 'downloads', 'w.bin'))).toBe(f.sha256);
  });

  it('add --wait exits 1 with the reason when the job fails', async () => {
    const origin = await startOrigin();
    const agent = await startAgent({ config });
    const r = await agent.cli(['download', 'add', origin.url('nothing'), '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/download 1 failed: HTTP 404/);
  });

  it('paused at ~30 %, agent SIGKILLed and restarted, `download resume` → info --json reaches done with a Range request', async () => {
    const origin = await startOrigin();
    const size = 6 * 1024 * 1024;
    const f = origin.addFile('big.bin', size);
    origin.switches.throttleBps = 1024 * 1024;
    const first = await startAgent({ config });
    const id = Number((await first.cli(['download', 'add', origin.url('big.bin'), '--sha256', f.sha256])).stdout.trim());
    await waitJob(first, id, (j) => j.bytes >= size * 0.3);
    expect((await first.cli(['download', 'pause', String(id)])).code).toBe(0);
    await waitJob(first, id, (j) => j.state === 'paused' && j.speed_bps === 0);
    await first.kill9();
    origin.switches.throttleBps = 0;
    const second = await startAgent({ config, stateDir: first.stateDir });
    const info = async () => JSON.parse((await second.cli(['download', 'info', String(id), '--json'])).stdout) as { state: string };
    expect((await info()).state).toBe('paused');
    expect((await second.cli(['download', 'resume', String(id)])).stdout).toMatch(`resumed: ${id}`);
    await waitFor('done', async () => (await info()).state === 'done', { timeoutMs: 20_000 });
    expect(sha256File(join(second.stateDir, 'downloads', 'big.bin'))).toBe(f.sha256);
    const starts = origin.rangeStarts('big.bin');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toBeGreaterThan(0);
  });

  it('list and info show the job; --json prints what the socket returned', async () => {
    const origin = await startOrigin();
    origin.addFile('l.bin', 1000);
    const agent = await startAgent({ config });
    const id = await add(agent, { url: origin.url('l.bin'), index: 4 });
    await waitJob(agent, id);
    const list = await agent.cli(['download', 'list']);
    expect(list.stdout).toMatch(/^id\s+index\s+state\s+%\s+bytes\/total\s+speed\s+eta\s+proxy\s+url/);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+4\\s+done\\s+100.0\\s+1000 B/1000 B\\s+-\\s+-\\s+DIRECT\\s+${origin.url('l.bin')}`));
    const json = JSON.parse((await agent.cli(['download', 'list', '--json'])).stdout) as Array<{ id: number; state: string; bytes: number }>;
    expect(json).toMatchObject([{ id, state: 'done', bytes: 1000 }]);
    expect((await agent.cli(['download', 'info', String(id)])).stdout).toMatch(/state\s+done/);
  });

  it('watch prints one line per job as it ends and exits 1 if one failed', async () => {
    const origin = await startOrigin();
    origin.addFile('a.bin', 512 * 1024);
    origin.switches.throttleBps = 1024 * 1024;
    const agent = await startAgent({ config: { downloads: { part_size: PART, concurrency: 2 } } });
    const a = await add(agent, { url: origin.url('a.bin') });
    const b = await add(agent, { url: origin.url('missing.bin') });
    const r = await agent.cli(['download', 'watch', String(a), String(b)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`job ${b} failed: HTTP 404`));
    expect(r.stdout).toMatch(new RegExp(`job ${a} done: 512.0 KiB`));
  });
});
