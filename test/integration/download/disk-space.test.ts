import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';

/** Small tmpfs file systems as downloads.dir or for the state DB (needs root to mount; skipped otherwise). */
const mounts: string[] = [];
function smallTmpfs(size: string): string {
  const dir = tempDir('pxc-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  mounts.push(dir);
  return dir;
}
const canMount = process.getuid?.() === 0;

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
  // Lazy unmount first: cleanupAgents removes the (then empty) mount point.
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  await cleanupAgents();
});

const free = (dir: string): number => {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
};

describe.skipIf(!canMount)('download disk space', () => {
  it('fails a download larger than the free space with "insufficient disk space" before fetching the body', async () => {
    const dir = smallTmpfs('4m');
    const origin = await startOrigin();
    origin.addFile('huge.bin', 8 * 1024 * 1024);
    const h = await startHarness({ downloads: { dir, part_size: 65536 } });
    const id = await h.add({ url: origin.url('huge.bin') });
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/insufficient disk space: \d+ more bytes needed in /);
    expect(origin.bytesServed()).toBeLessThan(8 * 1024 * 1024);
  });

  it('counts the bytes a job already holds: a resume that fits is not refused', async () => {
    const dir = smallTmpfs('8m');
    const origin = await startOrigin();
    const f = origin.addFile('r.bin', 6 * 1024 * 1024);
    origin.switches.throttleBps = 4 * 1024 * 1024;
    const h = await startHarness({ downloads: { dir, part_size: 256 * 1024 } });
    const id = await h.add({ url: origin.url('r.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= 3 * 1024 * 1024);
    await h.rpc('download.pause', { id });
    const held = (await h.wait(id, (j) => j.active_connections === 0)).bytes;
    // Leave room for what is missing (and a little), not for the whole file.
    writeFileSync(join(dir, 'filler'), Buffer.alloc(free(dir) - (f.data.length - held) - 256 * 1024));
    expect(free(dir)).toBeLessThan(f.data.length);
    origin.switches.throttleBps = 0;
    await h.rpc('download.resume', { id });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done' });
    expect(sha256File(join(dir, 'r.bin'))).toBe(f.sha256);
  });

  it('ENOSPC while writing fails that job only, keeping what it holds; other jobs complete, and retry finishes it once there is room', async () => {
    const dir = smallTmpfs('4m');
    const other = tempDir('pxc-other-');
    const origin = await startOrigin();
    const f = origin.addFile('fill.bin', 3 * 1024 * 1024);
    const g = origin.addFile('ok.bin', 256 * 1024);
    origin.switches.throttleBps = 2 * 1024 * 1024;
    const h = await startHarness({ downloads: { dir, part_size: 65536, allow_absolute: true } });
    const id = await h.add({ url: origin.url('fill.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes > 0);
    // The space check passed; now someone else takes the room.
    writeFileSync(join(dir, 'filler'), Buffer.alloc(2 * 1024 * 1024));
    origin.switches.throttleBps = 0;
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no space left on device writing .*fill\.bin\.partial/);
    expect(existsSync(join(dir, 'fill.bin'))).toBe(false);
    const id2 = await h.add({ url: origin.url('ok.bin'), dest: join(other, 'ok.bin'), sha256: g.sha256 });
    expect((await h.wait(id2)).state).toBe('done');
    expect(sha256File(join(other, 'ok.bin'))).toBe(g.sha256);
    rmSync(join(dir, 'filler'));
    await h.rpc('download.retry', { id });
    expect((await h.wait(id)).state).toBe('done');
    expect(sha256File(join(dir, 'fill.bin'))).toBe(f.sha256);
  });

  it('a full state DB (SQLITE_FULL) fails the job with a clear error; once there is room, retry completes it from its parts', async () => {
    const fs = smallTmpfs('16m');
    const origin = await startOrigin();
    const f = origin.addFile('db.bin', 3 * 1024 * 1024);
    origin.switches.throttleBps = 1024 * 1024;
    const h = await startHarness({ downloads: { store: 'sqlite', db_path: join(fs, 'downloads.db'), part_size: 256 * 1024 } });
    const id = await h.add({ url: origin.url('db.bin'), sha256: f.sha256 });
    // A part durable in the DB before it fills (bytes received alone could still be in flight).
    const db = new Database(join(fs, 'downloads.db'), { readonly: true });
    try {
      await waitFor('a part in the DB', () => (db.prepare('SELECT count(*) AS n FROM download_parts WHERE job_id = ?').get(id) as { n: number }).n >= 1);
    } finally {
      db.close();
    }
    writeFileSync(join(fs, 'filler'), Buffer.alloc(free(fs) - 128 * 1024));
    origin.switches.throttleBps = 0;
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no space left on device for the download state DB/);
    rmSync(join(fs, 'filler'));
    await h.rpc('download.retry', { id });
    const k = await h.wait(id);
    expect(k.state, String(k.error)).toBe('done');
    expect(origin.rangeStarts('db.bin')[0]).toBeGreaterThan(0);
    expect(sha256File(join(h.dir, 'db.bin'))).toBe(f.sha256);
  });
});
