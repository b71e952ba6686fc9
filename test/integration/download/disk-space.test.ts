import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent, tempDir } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { add, sha256File, waitJob } from './helpers.js';

/** A 4 MiB tmpfs as downloads.dir (needs root to mount; skipped otherwise). */
const mounts: string[] = [];
function smallTmpfs(size = '4m'): string | null {
  const dir = tempDir('pxc-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}
const canMount = process.getuid?.() === 0;

afterEach(async () => {
  // Lazy unmount first: cleanupAgents removes the (then empty) mount point.
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  await cleanupAgents();
  await closeOrigins();
});

describe.skipIf(!canMount)('download disk space', () => {
  it('fails a download larger than the free space with "insufficient disk space" before fetching the body', async () => {
    const dir = smallTmpfs()!;
    const origin = await startOrigin();
    origin.addFile('huge.bin', 8 * 1024 * 1024);
    const agent = await startAgent({ config: { downloads: { dir, part_size: 65536 } } });
    const id = await add(agent, { url: origin.url('huge.bin') });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/insufficient disk space/);
    expect(origin.bytesServed()).toBeLessThan(8 * 1024 * 1024);
  });

  it('ENOSPC while writing fails that job only; the agent keeps running and other jobs complete', async () => {
    const dir = smallTmpfs()!;
    const other = tempDir('pxc-other-');
    const origin = await startOrigin();
    const f = origin.addFile('fill.bin', 3 * 1024 * 1024);
    const g = origin.addFile('ok.bin', 256 * 1024);
    origin.switches.throttleBps = 2 * 1024 * 1024;
    const agent = await startAgent({ config: { downloads: { dir, part_size: 65536, allow_absolute: true } } });
    const id = await add(agent, { url: origin.url('fill.bin'), sha256: f.sha256 });
    await waitJob(agent, id, (j) => j.bytes > 0);
    // The space check passed; now someone else takes the room.
    writeFileSync(join(dir, 'filler'), Buffer.alloc(2 * 1024 * 1024));
    origin.switches.throttleBps = 0;
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no space left on device/);
    expect(existsSync(join(dir, 'fill.bin'))).toBe(false);
    expect(existsSync(join(dir, 'fill.bin.partial'))).toBe(false);

    mkdirSync(other, { recursive: true });
    const id2 = await add(agent, { url: origin.url('ok.bin'), dest: join(other, 'ok.bin'), sha256: g.sha256 });
    expect((await waitJob(agent, id2)).state).toBe('done');
    expect(sha256File(join(other, 'ok.bin'))).toBe(g.sha256);
    expect((await agent.talk('status')).length).toBeGreaterThan(0);
  });

  it('a full state DB (SQLITE_FULL) fails the job with a clear error and the agent stays up; once there is room, retry completes it from its parts', async () => {
    const fs = smallTmpfs('16m')!;
    const origin = await startOrigin();
    const f = origin.addFile('db.bin', 3 * 1024 * 1024);
    origin.switches.throttleBps = 1024 * 1024;
    // (Parts much smaller than the 64 KiB pages of a fresh DB would inflate the WAL several times over.)
    const agent = await startAgent({ config: { downloads: { db_path: join(fs, 'downloads.db'), part_size: 256 * 1024 } } });
    const id = await add(agent, { url: origin.url('db.bin'), sha256: f.sha256 });
    await waitJob(agent, id, (j) => j.bytes >= 512 * 1024);
    // Take all the room but 128 KiB.
    const st = statfsSync(fs);
    writeFileSync(join(fs, 'filler'), Buffer.alloc(st.bavail * st.bsize - 128 * 1024));
    origin.switches.throttleBps = 0;
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no space left on device for the download state DB/);
    expect((await agent.talk('status')).length).toBeGreaterThan(0);
    rmSync(join(fs, 'filler'));
    await agent.rpc('download.retry', { id });
    const k = await waitJob(agent, id);
    expect(k.state, String(k.error)).toBe('done');
    expect(origin.rangeStarts('db.bin')[0]).toBeGreaterThan(0);
    expect(sha256File(join(agent.stateDir, 'downloads', 'db.bin'))).toBe(f.sha256);
  });
});
