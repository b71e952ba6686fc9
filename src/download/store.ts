import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../state/state-db.js';
import type { JobRecord, JobState } from './job.js';

/**
 * The queue and the partial bytes, in SQLite. A part is one BLOB row committed
 * in its own transaction together with the job's byte count, so after a crash
 * `bytes` always equals the sum of the committed parts.
 */

interface JobRow extends Omit<JobRecord, 'index' | 'force'> {
  idx: number | null;
  force: number;
}

export interface NewJob {
  index: number | null;
  url: string;
  dest: string;
  sha256: string | null;
  max_rate: number;
  force: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS download_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idx INTEGER,
  url TEXT NOT NULL,
  dest TEXT NOT NULL,
  sha256 TEXT,
  state TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  total INTEGER,
  etag TEXT,
  last_modified TEXT,
  proxy TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  max_rate INTEGER NOT NULL DEFAULT 0,
  force INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS download_jobs_idx ON download_jobs (idx);
CREATE TABLE IF NOT EXISTS download_parts (
  job_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (job_id, part)
);
`;

const toRecord = (r: JobRow): JobRecord => {
  const { idx, force, ...rest } = r;
  return { ...rest, index: idx, force: force !== 0 };
};

export class JobStore {
  readonly #db: SqliteDatabase;
  readonly #insert: Database.Statement;
  readonly #get: Database.Statement<[number], JobRow>;
  readonly #all: Database.Statement<[], JobRow>;
  readonly #byIndex: Database.Statement<[number], JobRow>;
  readonly #countState: Database.Statement<[string], { n: number }>;
  readonly #setState: Database.Statement;
  readonly #addPart: Database.Statement;
  readonly #setBytes: Database.Statement;
  readonly #partCount: Database.Statement<[number], { n: number; bytes: number | null }>;
  readonly #nextPart: Database.Statement<[number, number], { part: number; data: Buffer }>;
  readonly #dropParts: Database.Statement<[number]>;
  readonly #commitPart: (jobId: number, part: number, data: Buffer, bytes: number) => void;
  readonly #discard: (jobId: number) => void;
  readonly #afterCommit: ((bytes: number) => void) | undefined;

  /** `afterCommit` is told the size of each part once its transaction has committed. */
  constructor(db: SqliteDatabase, opts: { afterCommit?: (bytes: number) => void } = {}) {
    this.#db = db;
    this.#afterCommit = opts.afterCommit;
    db.exec(SCHEMA);
    this.#insert = db.prepare('INSERT INTO download_jobs (idx, url, dest, sha256, state, max_rate, force, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.#get = db.prepare('SELECT * FROM download_jobs WHERE id = ?');
    // Queue order: jobs with an index by index, then the others by arrival.
    this.#all = db.prepare('SELECT * FROM download_jobs ORDER BY idx IS NULL, idx, id');
    this.#byIndex = db.prepare("SELECT * FROM download_jobs WHERE idx = ? AND state != 'cancelled' ORDER BY id LIMIT 1");
    this.#countState = db.prepare('SELECT count(*) AS n FROM download_jobs WHERE state = ?');
    this.#setState = db.prepare('UPDATE download_jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?');
    this.#addPart = db.prepare('INSERT INTO download_parts (job_id, part, data) VALUES (?, ?, ?)');
    this.#setBytes = db.prepare('UPDATE download_jobs SET bytes = ? WHERE id = ?');
    this.#partCount = db.prepare('SELECT count(*) AS n, sum(length(data)) AS bytes FROM download_parts WHERE job_id = ?');
    this.#nextPart = db.prepare('SELECT part, data FROM download_parts WHERE job_id = ? AND part > ? ORDER BY part LIMIT 1');
    this.#dropParts = db.prepare('DELETE FROM download_parts WHERE job_id = ?');
    this.#commitPart = db.transaction((jobId: number, part: number, data: Buffer, bytes: number) => {
      this.#addPart.run(jobId, part, data);
      this.#setBytes.run(bytes, jobId);
    });
    this.#discard = db.transaction((jobId: number) => {
      this.#dropParts.run(jobId);
      this.#setBytes.run(0, jobId);
    });
  }

  add(job: NewJob, now = Date.now()): JobRecord {
    const info = this.#insert.run(job.index, job.url, job.dest, job.sha256, 'queued', job.max_rate, job.force ? 1 : 0, now);
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): JobRecord | undefined {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Every job, in queue order. */
  all(): JobRecord[] {
    return this.#all.all().map(toRecord);
  }

  /** The live (not cancelled) job holding an index. */
  byIndex(index: number): JobRecord | undefined {
    const row = this.#byIndex.get(index);
    return row ? toRecord(row) : undefined;
  }

  countInState(state: JobState): number {
    return this.#countState.get(state)!.n;
  }

  setState(id: number, state: JobState, error: string | null = null, finishedAt: number | null = null): void {
    this.#setState.run(state, error, finishedAt, id);
  }

  /** Updates the given columns (not bytes: those move with parts). */
  update(id: number, fields: Partial<Pick<JobRecord, 'total' | 'etag' | 'last_modified' | 'proxy' | 'attempts' | 'error' | 'bytes'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.#db.prepare(`UPDATE download_jobs SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id });
  }

  /** One part and the new byte count, in one transaction. */
  commitPart(jobId: number, part: number, data: Buffer, bytes: number): void {
    this.#commitPart(jobId, part, data, bytes);
    this.#afterCommit?.(data.length);
  }

  /** The committed parts: how many and how many bytes. */
  partsInfo(jobId: number): { count: number; bytes: number } {
    const r = this.#partCount.get(jobId)!;
    return { count: r.n, bytes: r.bytes ?? 0 };
  }

  /**
   * The part after `after` (-1 for the first). One row per call rather than an
   * iterator: an open iterator would lock the connection across the awaits of
   * the caller's file writes.
   */
  nextPart(jobId: number, after: number): { part: number; data: Buffer } | undefined {
    return this.#nextPart.get(jobId, after);
  }

  /** Deletes the parts and zeroes the byte count. */
  discardParts(jobId: number): void {
    this.#discard(jobId);
  }

  /** Deletes the parts only (the byte count stays: a done job keeps its size). */
  dropParts(jobId: number): void {
    this.#dropParts.run(jobId);
  }

  /** Deletes parts of done or cancelled jobs and of jobs that no longer exist; returns how many. */
  sweepParts(): number {
    return this.#db.prepare("DELETE FROM download_parts WHERE job_id NOT IN (SELECT id FROM download_jobs WHERE state NOT IN ('done', 'cancelled'))").run().changes;
  }

  remove(jobId: number): void {
    this.#discard(jobId);
    this.#db.prepare('DELETE FROM download_jobs WHERE id = ?').run(jobId);
  }
}
