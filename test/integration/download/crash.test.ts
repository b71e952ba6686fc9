import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { openDatabase } from '../../../src/state/state-db.js';
import { add, info, sha256File, waitJob } from './helpers.js';

const PART = 64 * 1024;
const config = { downloads: { part_size: PART } };

afterEach(async () => {
  await cleanupAgents();
  await closeOrigins();
});

describe('download crash recovery', () => {
  it('an agent killed with SIGKILL mid-download completes the job after a restart, re-fetching at most one part', async () => {
    const origin = await startOrigin();
    const size = 2 * 1024 * 1024;
    const f = origin.addFile('big.bin', size);
    // Writes of one part each, so the bytes in flight when the agent dies are at most one part.
    origin.switches.throttleBps = 1024 * 1024;
    origin.switches.throttleChunk = PART;
    const first = await startAgent({ config });
    const id = await add(first, { url: origin.url('big.bin'), sha256: f.sha256 });
    await waitJob(first, id, (j) => j.bytes >= size / 3);
    await first.kill9();

    origin.switches.throttleBps = 0;
    const second = await startAgent({ config, stateDir: first.stateDir });
    const j = await waitJob(second, id);
    expect(j.state).toBe('done');
    expect(sha256File(join(second.stateDir, 'downloads', 'big.bin'))).toBe(f.sha256);
    const [resumedAt] = origin.rangeStarts('big.bin');
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt! % PART).toBe(0);
    expect(origin.bytesServed()).toBeLessThanOrEqual(size + PART);
  });

  it('a paused job stays paused across a SIGKILL and resumes with a Range request', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('p.bin', 1024 * 1024);
    origin.switches.throttleBps = 512 * 1024;
    const first = await startAgent({ config });
    const id = await add(first, { url: origin.url('p.bin'), sha256: f.sha256 });
    await waitJob(first, id, (j) => j.bytes >= 300 * 1024);
    await first.rpc('download.pause', { id });
    const held = (await waitJob(first, id, (j) => j.state === 'paused' && j.speed_bps === 0)).bytes;
    await first.kill9();

    origin.switches.throttleBps = 0;
    const second = await startAgent({ config, stateDir: first.stateDir });
    expect(await info(second, id)).toMatchObject({ state: 'paused', bytes: held });
    await second.rpc('download.resume', { id });
    expect((await waitJob(second, id)).state).toBe('done');
    expect(sha256File(join(second.stateDir, 'downloads', 'p.bin'))).toBe(f.sha256);
    expect(origin.rangeStarts('p.bin')).toEqual([held]);
  });

  it('a crash between the rename and `done` ends in done at restart, not in a destination clash', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('r.bin', 200 * 1024);
    const first = await startAgent({ config });
    const id = await add(first, { url: origin.url('r.bin'), sha256: f.sha256 });
    expect((await waitJob(first, id)).state).toBe('done');
    await first.stop();
    // Rewind the DB to the moment after the rename: parts still there, state verifying.
    const db = openDatabase(join(first.stateDir, 'state.db'));
    const insert = db.prepare('INSERT INTO download_parts (job_id, part, data) VALUES (?, ?, ?)');
    for (let i = 0; i * PART < f.data.length; i++) insert.run(id, i, f.data.subarray(i * PART, (i + 1) * PART));
    db.prepare("UPDATE download_jobs SET state = 'verifying', finished_at = NULL WHERE id = ?").run(id);
    db.close();
    const second = await startAgent({ config, stateDir: first.stateDir });
    const j = await waitJob(second, id);
    expect(j, JSON.stringify(j)).toMatchObject({ state: 'done', error: null, bytes: f.data.length });
    expect(sha256File(join(second.stateDir, 'downloads', 'r.bin'))).toBe(f.sha256);
  });
});
