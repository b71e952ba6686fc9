import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { SqliteDatabase } from '../state/state-db.js';
import type { HashWorker } from './hash-worker.js';
import type { JobRecord } from './job.js';
import { JobFiles } from './job-files.js';
import type { JobTable } from './job-table.js';
import { PartialFile } from './partial-file.js';
import { PartMap, type Part } from './part-map.js';
import type { PartStore } from './part-store.js';

/**
 * The `file` store: the bytes live once, in `<dest>.partial`; SQLite holds a
 * journal of the parts that are complete and on disk. See part-store.ts.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS download_journal (
  job_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (job_id, part)
);
`;

interface JournalRow {
  part: number;
  offset: number;
  length: number;
  sha256: string;
}

export interface FileStoreDeps {
  table: JobTable;
  /** Hashes parts (new ones, and journaled ones at the next start). */
  partHasher: HashWorker;
  /** Keeps the whole-file hashes. */
  fileHasher: HashWorker;
  logger: Logger;
  /** A journaled part failed its check at a start and is fetched again. */
  onBadPart?: () => void;
}

export class FileStore implements PartStore {
  readonly kind = 'file' as const;
  readonly keepsData = false;
  readonly syncsFile = true;
  readonly #db: SqliteDatabase;
  readonly #deps: FileStoreDeps;
  readonly #rows: Database.Statement<[number], JournalRow>;
  readonly #drop: Database.Statement<[number, number]>;
  readonly #journal: (jobId: number, rows: readonly JournalRow[], bytes: number) => void;
  readonly #discard: (jobId: number) => void;

  constructor(db: SqliteDatabase, deps: FileStoreDeps) {
    this.#db = db;
    this.#deps = deps;
    db.exec(SCHEMA);
    const insert = db.prepare('INSERT OR REPLACE INTO download_journal (job_id, part, offset, length, sha256) VALUES (?, ?, ?, ?, ?)');
    const setBytes = db.prepare('UPDATE download_jobs SET bytes = bytes + ? WHERE id = ?');
    const dropAll = db.prepare('DELETE FROM download_journal WHERE job_id = ?');
    const zero = db.prepare('UPDATE download_jobs SET bytes = 0 WHERE id = ?');
    this.#rows = db.prepare('SELECT part, offset, length, sha256 FROM download_journal WHERE job_id = ? ORDER BY part');
    this.#drop = db.prepare('DELETE FROM download_journal WHERE job_id = ? AND part = ?');
    this.#journal = db.transaction((jobId: number, rows: readonly JournalRow[], bytes: number) => {
      for (const r of rows) insert.run(jobId, r.part, r.offset, r.length, r.sha256);
      setBytes.run(bytes, jobId);
    });
    this.#discard = db.transaction((jobId: number) => {
      dropAll.run(jobId);
      zero.run(jobId);
    });
  }

  async open(job: JobRecord, partSize: number): Promise<JobFiles | 'at-dest'> {
    const path = `${job.dest}.partial`;
    const rows = this.#rows.all(job.id);
    const map = new PartMap(partSize, job.total);
    // A row fits a part of this geometry (while the size is unknown, only whole parts were journaled).
    const fits = rows.filter((r) => {
      if (r.offset !== r.part * partSize) return false;
      return job.total === null ? r.length === partSize : r.length === map.parts[r.part]?.length;
    });
    if (fits.length < rows.length) {
      this.#deps.logger.warn({ job: job.id, dropped: rows.length - fits.length }, 'journal rows that do not fit the file dropped');
      for (const r of rows) if (!fits.includes(r)) this.#drop.run(job.id, r.part);
    }
    let partial = fits.length > 0 ? await PartialFile.reopen(path) : null;
    if (!partial && fits.length > 0) {
      if (fits.length === map.parts.length && (await this.#matchesDest(job, fits))) return 'at-dest';
      this.#deps.logger.warn({ job: job.id, parts: fits.length }, `${path} is gone; its journaled parts are fetched again`);
      this.discard(job.id);
      fits.length = 0;
    }
    partial ??= await PartialFile.create(path);

    // Every journaled part is hashed again: a torn or altered part is fetched again, never trusted.
    const checks = await Promise.all(fits.map((r) => this.#deps.partHasher.hashRange(partial.fd, r.offset, r.length)));
    let bytes = 0;
    const bad: number[] = [];
    fits.forEach((r, i) => {
      const c = checks[i]!;
      if (c.read === r.length && c.sha256 === r.sha256) {
        map.at(r.offset).held = true;
        bytes += r.length;
      } else bad.push(r.part);
    });
    if (bad.length > 0) {
      this.#deps.logger.warn({ job: job.id, parts: bad }, `journaled parts of ${path} failed their check (torn or altered); fetching them again`);
      for (const part of bad) {
        this.#drop.run(job.id, part);
        this.#deps.onBadPart?.();
      }
    }
    this.#deps.table.update(job.id, { bytes });
    const files = new JobFiles(partial, map, this.#deps.fileHasher.stream());
    files.advance();
    return files;
  }

  /** Whether the destination holds exactly the journaled parts (a crash came after the rename). */
  async #matchesDest(job: JobRecord, rows: readonly JournalRow[]): Promise<boolean> {
    const st = await lstat(job.dest).catch(() => null);
    if (!st?.isFile() || st.size !== job.total) return false;
    const fh = await open(job.dest, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
    if (!fh) return false;
    try {
      const checks = await Promise.all(rows.map((r) => this.#deps.partHasher.hashRange(fh.fd, r.offset, r.length)));
      return checks.every((c, i) => c.read === rows[i]!.length && c.sha256 === rows[i]!.sha256);
    } finally {
      await fh.close();
    }
  }

  async commit(job: JobRecord, files: JobFiles, parts: readonly Part[], sha256s: readonly string[]): Promise<void> {
    // On disk first: the journal never claims bytes that are not.
    await files.partial.datasync();
    let bytes = 0;
    const rows = parts.map((p, i) => {
      bytes += p.length;
      return { part: p.index, offset: p.offset, length: p.length, sha256: sha256s[i]! };
    });
    this.#journal(job.id, rows, bytes);
  }

  discard(jobId: number): void {
    this.#discard(jobId);
  }

  forget(jobId: number): void {
    this.#db.prepare('DELETE FROM download_journal WHERE job_id = ?').run(jobId);
  }

  dbBytes(): number {
    return 0;
  }

  sweep(): number {
    return this.#db.prepare("DELETE FROM download_journal WHERE job_id NOT IN (SELECT id FROM download_jobs WHERE state NOT IN ('done', 'cancelled'))").run().changes;
  }
}
