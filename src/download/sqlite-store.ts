import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { SqliteDatabase } from '../state/state-db.js';
import { Checkpointer } from './checkpointer.js';
import type { HashWorker } from './hash-worker.js';
import type { JobRecord } from './job.js';
import { JobFiles } from './job-files.js';
import type { JobTable } from './job-table.js';
import { PartialFile } from './partial-file.js';
import { PartMap, type Part } from './part-map.js';
import type { PartStore } from './part-store.js';

/**
 * The `sqlite` store (the shard-downloader design): each complete part is a
 * BLOB row (with its SHA-256) committed in its own transaction with the job's
 * byte count, so the database is the one durable copy; `<dest>.partial` is only
 * trusted while this process writes it and is rebuilt from the BLOBs after a
 * restart, each checked against its hash (an altered one is fetched again).
 * WAL checkpoints of all those BLOBs run in a worker (checkpointer.ts).
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS download_parts (
  job_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (job_id, part)
);
`;
/** Parts committed before parts had hashes keep a NULL one (they are trusted as SQLite's). */
const ADD_SHA256 = 'ALTER TABLE download_parts ADD COLUMN sha256 TEXT';

/** Parts committed between two background checkpoints (about the WAL's length). */
const BACKGROUND_CHECKPOINT_BYTES = 16 * 1024 * 1024;

export interface SqliteStoreDeps {
  table: JobTable;
  partHasher: HashWorker;
  /** A part that failed its check at a start and is fetched again. */
  onBadPart?: () => void;
  fileHasher: HashWorker;
  logger: Logger;
  /** The database file (the checkpointer opens its own connection to it). */
  dbPath: string;
}

export class SqliteStore implements PartStore {
  readonly kind = 'sqlite' as const;
  readonly keepsData = true;
  readonly syncsFile = false;
  readonly #db: SqliteDatabase;
  readonly #deps: SqliteStoreDeps;
  readonly #list: Database.Statement<[number], { part: number; length: number; sha256: string | null }>;
  readonly #get: Database.Statement<[number, number], { data: Buffer }>;
  readonly #drop: Database.Statement<[number, number]>;
  readonly #sum: Database.Statement<[number], { bytes: number | null }>;
  readonly #commit: (jobId: number, part: number, data: Buffer, sha256: string) => void;
  readonly #discard: (jobId: number) => void;
  #checkpointer: Checkpointer | null = null;

  constructor(db: SqliteDatabase, deps: SqliteStoreDeps) {
    this.#db = db;
    this.#deps = deps;
    db.exec(SCHEMA);
    if (!(db.pragma('table_info(download_parts)') as Array<{ name: string }>).some((c) => c.name === 'sha256')) db.exec(ADD_SHA256);
    const insert = db.prepare('INSERT OR REPLACE INTO download_parts (job_id, part, data, sha256) VALUES (?, ?, ?, ?)');
    const addBytes = db.prepare('UPDATE download_jobs SET bytes = bytes + ? WHERE id = ?');
    const dropAll = db.prepare('DELETE FROM download_parts WHERE job_id = ?');
    const zero = db.prepare('UPDATE download_jobs SET bytes = 0 WHERE id = ?');
    this.#list = db.prepare('SELECT part, length(data) AS length, sha256 FROM download_parts WHERE job_id = ? ORDER BY part');
    this.#get = db.prepare('SELECT data FROM download_parts WHERE job_id = ? AND part = ?');
    this.#drop = db.prepare('DELETE FROM download_parts WHERE job_id = ? AND part = ?');
    this.#sum = db.prepare('SELECT sum(length(data)) AS bytes FROM download_parts WHERE job_id = ?');
    this.#commit = db.transaction((jobId: number, part: number, data: Buffer, sha256: string) => {
      insert.run(jobId, part, data, sha256);
      addBytes.run(data.length, jobId);
    });
    this.#discard = db.transaction((jobId: number) => {
      dropAll.run(jobId);
      zero.run(jobId);
    });
  }

  async open(job: JobRecord, partSize: number): Promise<JobFiles> {
    const map = new PartMap(partSize, job.total);
    const rows = this.#list.all(job.id);
    const partial = await PartialFile.create(`${job.dest}.partial`);
    const written: typeof rows = [];
    try {
      for (const r of rows) {
        const fits = job.total === null ? r.length === partSize : map.parts[r.part]?.length === r.length;
        if (!fits) {
          this.#drop.run(job.id, r.part);
          continue;
        }
        // One BLOB at a time: an open iterator would hold the connection across the awaits.
        await partial.write([this.#get.get(job.id, r.part)!.data], r.part * partSize);
        written.push(r);
      }
    } catch (err) {
      await partial.discard();
      throw err;
    }
    // Each part against its hash, read back from the rebuilt file in the hash worker.
    const checks = await Promise.all(written.map((r) => (r.sha256 === null ? null : this.#deps.partHasher.hashRange(partial.fd, r.part * partSize, r.length))));
    let bytes = 0;
    const bad: number[] = [];
    written.forEach((r, i) => {
      const c = checks[i];
      if (c && (c.read !== r.length || c.sha256 !== r.sha256)) {
        bad.push(r.part);
        this.#drop.run(job.id, r.part);
        this.#deps.onBadPart?.();
        return;
      }
      map.at(r.part * partSize).held = true;
      bytes += r.length;
    });
    if (bad.length > 0) this.#deps.logger.warn({ job: job.id, parts: bad }, 'parts in the database failed their check (altered); fetching them again');
    if (rows.length > 0) this.#deps.logger.info({ job: job.id, bytes }, 'rebuilt .partial from the parts in the database');
    this.#deps.table.update(job.id, { bytes });
    const files = new JobFiles(partial, map, this.#deps.fileHasher.stream());
    files.advance();
    return files;
  }

  async commit(job: JobRecord, _files: JobFiles, parts: readonly Part[], sha256s: readonly string[]): Promise<void> {
    for (const [i, p] of parts.entries()) {
      const data = p.data!;
      this.#commit(job.id, p.index, data.length === p.length ? data : data.subarray(0, p.length), sha256s[i]!);
      this.#checkpoints().committed(p.length);
    }
  }

  #checkpoints(): Checkpointer {
    this.#checkpointer ??= new Checkpointer(this.#db, this.#deps.dbPath, this.#deps.logger, BACKGROUND_CHECKPOINT_BYTES);
    return this.#checkpointer;
  }

  discard(jobId: number): void {
    this.#discard(jobId);
  }

  forget(jobId: number): void {
    this.#db.prepare('DELETE FROM download_parts WHERE job_id = ?').run(jobId);
  }

  dbBytes(jobId: number): number {
    return this.#sum.get(jobId)!.bytes ?? 0;
  }

  sweep(): number {
    return this.#db.prepare("DELETE FROM download_parts WHERE job_id NOT IN (SELECT id FROM download_jobs WHERE state NOT IN ('done', 'cancelled'))").run().changes;
  }

  /** For tests: resolves once no background checkpoint is running. */
  async settled(): Promise<void> {
    await this.#checkpointer?.settled();
  }

  async close(): Promise<void> {
    await this.#checkpointer?.close();
    this.#checkpointer = null;
  }
}
