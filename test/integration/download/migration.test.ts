import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { openDatabase } from '../../../src/state/state-db.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';

/** A state.db written before stores, mirrors and per-job counters: its jobs carry on. */

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
});

const OLD_SCHEMA = `
CREATE TABLE download_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, idx INTEGER, url TEXT NOT NULL, dest TEXT NOT NULL, sha256 TEXT, state TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0, total INTEGER, etag TEXT, last_modified TEXT, proxy TEXT, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
  max_rate INTEGER NOT NULL DEFAULT 0, force INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, finished_at INTEGER);
CREATE INDEX download_jobs_idx ON download_jobs (idx);
CREATE TABLE download_parts (job_id INTEGER NOT NULL, part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, part));
`;

describe('a state.db from before the file store', () => {
  it("resumes an old paused job from its BLOB parts (their part size, not today's), with Range and If-Range", async () => {
    const origin = await startOrigin();
    const f = origin.addFile('old.bin', 600 * 1024);
    const stateDir = tempDir('pxc-dl-');
    mkdirSync(join(stateDir, 'downloads'));
    const OLD_PART = 64 * 1024;
    const db = openDatabase(join(stateDir, 'state.db'));
    db.exec(OLD_SCHEMA);
    const dest = join(stateDir, 'downloads', 'old.bin');
    db.prepare("INSERT INTO download_jobs (url, dest, sha256, state, bytes, total, etag, attempts, created_at) VALUES (?, ?, ?, 'paused', ?, ?, ?, 1, 0)").run(origin.url('old.bin'), dest, f.sha256, 3 * OLD_PART, f.data.length, f.etag);
    for (let i = 0; i < 3; i++) db.prepare('INSERT INTO download_parts (job_id, part, data) VALUES (1, ?, ?)').run(i, f.data.subarray(i * OLD_PART, (i + 1) * OLD_PART));
    db.close();

    const h = await startHarness({ downloads: { part_size: '1M' } }, stateDir);
    expect(await h.info(1)).toMatchObject({ state: 'paused', store: 'sqlite', bytes: 3 * OLD_PART, attempts: 1, resumes: 0, sources: [{ url: origin.url('old.bin'), state: 'usable' }] });
    await h.rpc('download.resume', { id: 1 });
    expect(await h.wait(1)).toMatchObject({ state: 'done', bytes: f.data.length, resumes: 1 });
    expect(sha256File(dest)).toBe(f.sha256);
    expect(origin.requests.map((r) => [r.range, r.ifRange])).toEqual([[`bytes=${3 * OLD_PART}-`, f.etag]]);
    // New jobs use the file store.
    const g = origin.addFile('new.bin', 1000);
    const id = await h.add({ url: origin.url('new.bin'), sha256: g.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', store: 'file' });
  });
});
