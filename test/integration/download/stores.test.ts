import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { cleanupNginx, hasNginx, startNginx } from '../../helpers/nginx.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { closeHarnesses, startHarness, type Harness } from './harness.js';
import { sha256File } from './helpers.js';

/**
 * The suite both stores pass: `file` (bytes in <dest>.partial, a journal of parts
 * in SQLite) and `sqlite` (the parts as BLOBs). In-process, against nginx for whole
 * files, and the node test origin where a transfer is held mid-file (switches.holdAt:
 * a stop, a pause or a crash at a known offset, without racing a throttle) or the server
 * misbehaves.
 */

const PART = 128 * 1024;

afterEach(async () => {
  await closeHarnesses();
  await cleanupNginx();
  await closeOrigins();
  await cleanupAgents();
});

/** Damages a held part the way each store can be damaged: the journaled bytes in the file, or the BLOB. */
function corruptPart(store: 'file' | 'sqlite', h: Harness, dest: string, part: number): void {
  if (store === 'file') {
    const fd = openSync(`${dest}.partial`, 'r+');
    writeSync(fd, Buffer.from('garbage!'), 0, 8, part * PART + 100);
    closeSync(fd);
  } else {
    const db = new Database(join(h.stateDir, 'state.db'));
    db.prepare('UPDATE download_parts SET data = zeroblob(length(data)) WHERE part = ?').run(part);
    db.close();
  }
}

describe.each(['file', 'sqlite'] as const)('the %s store', (store) => {
  const config = (downloads: Record<string, unknown> = {}) => ({ downloads: { store, part_size: PART, ...downloads }, proxy: { backoff_init: 0.05, backoff_max: 0.1 } });

  it.skipIf(!hasNginx())('downloads a file byte-exact over 1 and over 4 connections, leaving no partial file', async () => {
    const n = await startNginx();
    const f = n.addFile('a.bin', 3 * 1024 * 1024 + 123);
    const h = await startHarness(config());
    const one = await h.add({ url: n.url('a.bin'), sha256: f.sha256, dest: 'one.bin' });
    const four = await h.add({ url: n.url('a.bin'), sha256: f.sha256, dest: 'four.bin', connections: 4 });
    expect(await h.wait(one)).toMatchObject({ state: 'done', bytes: f.data.length, total: f.data.length, error: null, store, connections: 1 });
    expect(await h.wait(four)).toMatchObject({ state: 'done', bytes: f.data.length, connections: 4 });
    for (const name of ['one.bin', 'four.bin']) {
      expect(sha256File(join(h.dir, name))).toBe(f.sha256);
      expect(existsSync(join(h.dir, `${name}.partial`))).toBe(false);
      expect(statSync(join(h.dir, name)).mode & 0o777).toBe(0o644);
    }
    const gets = n.requests().filter((r) => r.method === 'GET');
    // One request for the whole file; then one per part (25 parts), none fetched twice.
    expect(gets[0]).toMatchObject({ range: null, status: 200 });
    expect(gets.slice(1).every((r) => r.status === 206 && /^bytes=\d+-\d+$/.test(r.range!))).toBe(true);
    expect(gets).toHaveLength(1 + Math.ceil(f.data.length / PART));
    expect(n.bytesServed()).toBe(2 * f.data.length);
    // The queue is idle: state.db gave the parts' pages back and its WAL is empty.
    const db = join(h.stateDir, 'state.db');
    await waitFor('an empty WAL', () => !existsSync(`${db}-wal`) || statSync(`${db}-wal`).size === 0);
    expect(statSync(db).size).toBeLessThan(1024 * 1024);
  });

  it('pause aborts the request; resume continues byte-exact with Range and If-Range', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('p.bin', 1024 * 1024);
    origin.switches.holdAt = 3 * PART + 1000;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('p.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= 300 * 1024);
    await h.rpc('download.pause', { id });
    expect((await h.info(id)).state).toBe('paused');
    const get = origin.requests.find((r) => r.path === '/p.bin')!;
    await waitFor('the origin to see the abort', () => get.closed);
    expect(get.completed).toBe(false);
    const j = await h.wait(id, (v) => v.active_connections === 0);
    origin.switches.holdAt = null;
    await h.rpc('download.resume', { id });
    expect(await h.wait(id)).toMatchObject({ state: 'done', resumes: 1 });
    expect(sha256File(join(h.dir, 'p.bin'))).toBe(f.sha256);
    const [resumedAt] = origin.rangeStarts('p.bin');
    // The resume starts where the bytes received end (they are in the partial file even if not yet a whole part).
    expect(resumedAt).toBeGreaterThanOrEqual(j.bytes - PART);
    expect(origin.requests.find((r) => r.range?.startsWith(`bytes=${resumedAt}-`))?.ifRange).toBe(f.etag);
  });

  it('an agent stopped mid-file continues after its restart from the parts it held, re-fetching less than one part', async () => {
    const origin = await startOrigin();
    const size = 2 * 1024 * 1024;
    const f = origin.addFile('r.bin', size);
    // Held mid-part, so the stop finds a part begun and not finished.
    origin.switches.holdAt = 6 * PART + PART / 2;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('r.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= size / 3);
    await h.close();
    origin.switches.holdAt = null;
    // What the stopped agent had received: the partial file reaches that far.
    const received = statSync(join(h.dir, 'r.bin.partial')).size;
    const again = await startHarness(config(), h.stateDir);
    const j = await again.wait(id);
    expect(j).toMatchObject({ state: 'done', resumes: 1, restarts: 0 });
    expect(sha256File(join(again.dir, 'r.bin'))).toBe(f.sha256);
    const resumed = origin.requests.filter((r) => r.range !== null);
    expect(resumed).toHaveLength(1);
    const start = Number(/^bytes=(\d+)-/.exec(resumed[0]!.range!)![1]);
    expect(start % PART).toBe(0);
    expect(start).toBeLessThanOrEqual(received);
    expect(received - start).toBeLessThan(PART);
  });

  it('a paused job stays paused across a restart and resumes where it was durable', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('p.bin', 1024 * 1024);
    origin.switches.holdAt = 3 * PART + PART / 2;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('p.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= 300 * 1024);
    await h.rpc('download.pause', { id });
    await h.wait(id, (j) => j.active_connections === 0);
    const again = await h.restart();
    const held = (await again.info(id)).bytes;
    expect(held % PART).toBe(0);
    expect(await again.info(id)).toMatchObject({ state: 'paused' });
    origin.switches.holdAt = null;
    await again.rpc('download.resume', { id });
    expect((await again.wait(id)).state).toBe('done');
    expect(sha256File(join(again.dir, 'p.bin'))).toBe(f.sha256);
    expect(origin.requests.slice(1).map((r) => r.range)).toEqual([`bytes=${held}-`]);
  });

  it.skipIf(!hasNginx())('a crash between the rename and `done` ends in done at the next start, not in a destination clash', async () => {
    const n = await startNginx();
    const f = n.addFile('r.bin', 3 * PART + 1000);
    const h = await startHarness(config());
    const id = await h.add({ url: n.url('r.bin'), sha256: f.sha256 });
    expect((await h.wait(id)).state).toBe('done');
    await h.close();
    // Rewind the DB to the moment after the rename: parts still recorded, state verifying.
    const db = new Database(join(h.stateDir, 'state.db'));
    for (let i = 0; i * PART < f.data.length; i++) {
      const data = f.data.subarray(i * PART, (i + 1) * PART);
      const sha = createHash('sha256').update(data).digest('hex');
      if (store === 'file') db.prepare('INSERT INTO download_journal (job_id, part, offset, length, sha256) VALUES (?, ?, ?, ?, ?)').run(id, i, i * PART, data.length, sha);
      else db.prepare('INSERT INTO download_parts (job_id, part, data, sha256) VALUES (?, ?, ?, ?)').run(id, i, data, sha);
    }
    db.prepare("UPDATE download_jobs SET state = 'verifying', finished_at = NULL WHERE id = ?").run(id);
    db.close();
    const again = await startHarness(config(), h.stateDir);
    const j = await again.wait(id);
    expect(j, JSON.stringify(j)).toMatchObject({ state: 'done', error: null, bytes: f.data.length });
    expect(sha256File(join(again.dir, 'r.bin'))).toBe(f.sha256);
    // The file store recognises its own file by the journal's hashes: nothing is fetched again.
    if (store === 'file') expect(n.requests()).toHaveLength(1);
  });

  it('a torn last part and an altered held part are found at the restart and fetched again', async () => {
    const origin = await startOrigin();
    const size = 2 * 1024 * 1024;
    const f = origin.addFile('t.bin', size);
    origin.switches.holdAt = 6 * PART + PART / 2;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('t.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= 6 * PART);
    await h.rpc('download.pause', { id });
    await h.wait(id, (j) => j.active_connections === 0);
    await h.close();
    const dest = join(h.dir, 't.bin');
    const held = new Database(join(h.stateDir, 'state.db')).prepare('SELECT bytes FROM download_jobs WHERE id = ?').get(id) as { bytes: number };
    const parts = held.bytes / PART;
    expect(parts).toBeGreaterThanOrEqual(4);
    // The last held part torn in the middle (a crash while the disk wrote it), part 1 altered.
    truncateSync(`${dest}.partial`, (parts - 1) * PART + PART / 2);
    corruptPart(store, h, dest, 1);
    const again = await startHarness(config(), h.stateDir);
    origin.switches.holdAt = null;
    await again.rpc('download.resume', { id });
    expect(await again.wait(id)).toMatchObject({ state: 'done', error: null });
    expect(sha256File(dest)).toBe(f.sha256);
    const ranges = origin.requests.filter((r) => r.range !== null).map((r) => r.range);
    // Part 1 fetched again on its own; the rest from the last good part on (the torn one only matters for the file store).
    expect(ranges).toContain(`bytes=${PART}-${2 * PART - 1}`);
    const refetched = (again.stats.snapshot() as { downloads: { parts_refetched: number } }).downloads.parts_refetched;
    expect(refetched).toBe(store === 'file' ? 2 : 1);
  });

  it('restarts from zero when the server now ignores Range, and still gets the right file', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('i.bin', 512 * 1024);
    origin.switches.holdAt = 2 * PART + 1000;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('i.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.bytes >= 2 * PART);
    await h.rpc('download.pause', { id });
    await h.wait(id, (j) => j.active_connections === 0);
    origin.switches.holdAt = null;
    origin.switches.ignoreRange = true;
    await h.rpc('download.resume', { id });
    expect(await h.wait(id)).toMatchObject({ state: 'done', restarts: 1 });
    expect(sha256File(join(h.dir, 'i.bin'))).toBe(f.sha256);
    expect((h.stats.snapshot() as { downloads: { restarts_from_zero: number } }).downloads.restarts_from_zero).toBe(1);
  });

  it('restarts from zero when the file changed (new ETag) and ends with the new file', async () => {
    const origin = await startOrigin();
    origin.addFile('c.bin', 512 * 1024);
    origin.switches.holdAt = 2 * PART + 1000;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('c.bin') });
    await h.wait(id, (j) => j.bytes >= 2 * PART);
    await h.rpc('download.pause', { id });
    await h.wait(id, (j) => j.active_connections === 0);
    const g = origin.changeFile('c.bin');
    origin.switches.holdAt = null;
    await h.rpc('download.resume', { id });
    expect(await h.wait(id)).toMatchObject({ state: 'done', restarts: 1 });
    expect(sha256File(join(h.dir, 'c.bin'))).toBe(g.sha256);
  });

  it('completes on a 416 when the remote size equals the bytes held', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('t.bin', 512 * 1024);
    origin.switches.noValidators = true;
    origin.switches.holdAt = 2 * PART + 1000;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('t.bin') });
    await h.wait(id, (j) => j.bytes >= 2 * PART);
    await h.rpc('download.pause', { id });
    const held = (await h.wait(id, (j) => j.active_connections === 0)).bytes;
    // The server now has exactly the bytes received (no validator to notice).
    const g = origin.addFile('t.bin', f.data.subarray(0, held));
    origin.switches.holdAt = null;
    await h.rpc('download.resume', { id });
    const done = await h.wait(id);
    expect(done, String(done.error)).toMatchObject({ state: "done", bytes: held });
    expect(origin.requests.some((r) => r.status === 416)).toBe(true);
    expect(sha256File(join(h.dir, 't.bin'))).toBe(g.sha256);
  });

  it('fails with "partial data larger than remote file" when the remote file shrank below the bytes held', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('s.bin', 512 * 1024);
    origin.switches.noValidators = true;
    origin.switches.holdAt = 3 * PART + 1000;
    const h = await startHarness(config());
    const id = await h.add({ url: origin.url('s.bin') });
    await h.wait(id, (j) => j.bytes >= 3 * PART);
    await h.rpc('download.pause', { id });
    const held = (await h.wait(id, (j) => j.active_connections === 0)).bytes;
    origin.addFile('s.bin', f.data.subarray(0, held - PART));
    origin.switches.holdAt = null;
    await h.rpc('download.resume', { id });
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/partial data larger than remote file/);
  });

  it.skipIf(!hasNginx())('purge removes ended jobs with their parts and partial files, and state.db gives the space back', async () => {
    const n = await startNginx({ limitRate: 4 * 1024 * 1024 });
    const f = n.addFile('big.bin', 8 * 1024 * 1024);
    const h = await startHarness(config({ part_size: 1024 * 1024, max_retries: 0 }));
    const ok = await h.add({ url: n.url('big.bin'), dest: 'ok.bin' });
    await h.wait(ok);
    // A job that fails mid-file keeps its parts and partial file (for retry) until it is purged.
    const failed = await h.add({ url: n.url('limited/big.bin'), dest: 'failed.bin' });
    await h.wait(failed, (j) => j.bytes >= 3 * 1024 * 1024);
    await h.rpc('download.pause', { id: failed });
    await h.wait(failed, (j) => j.active_connections === 0);
    await n.stop();
    await h.rpc('download.resume', { id: failed });
    expect((await h.wait(failed)).error).toMatch(/ECONNREFUSED/);
    const running = await h.add({ url: n.url('big.bin'), dest: 'queued.bin' });
    await expect(h.rpc('download.purge', { ids: [running] })).rejects.toMatchObject({ code: 'PXC_ERR_JOB_STATE' });
    await h.rpc('download.cancel', { id: running });
    const db = join(h.stateDir, 'state.db');
    const onDisk = (): number => statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
    const before = onDisk();
    expect(existsSync(join(h.dir, 'failed.bin.partial'))).toBe(true);
    expect(await h.rpc('download.purge', { finished: true })).toEqual({ jobs: [ok, failed, running] });
    expect(await h.rpc('download.list', {})).toEqual([]);
    expect(existsSync(join(h.dir, 'failed.bin.partial'))).toBe(false);
    // The sqlite store held the failed job's 3 MiB in the database; the file store only its journal.
    if (store === 'sqlite') expect(onDisk()).toBeLessThan(before - 2 * 1024 * 1024);
    else expect(onDisk()).toBeLessThanOrEqual(before);
    expect(existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0).toBe(0);
    expect(readFileSync(join(h.dir, 'ok.bin')).equals(f.data)).toBe(true);
  });
});
