import type { JobRecord, StoreKind } from './job.js';
import type { JobFiles } from './job-files.js';
import type { Part } from './part-map.js';

/**
 * Where the parts of a job in progress are made durable. Both stores write the
 * bytes into `<dest>.partial` as they arrive; they differ in what survives a
 * crash:
 *
 *   file   — the partial file itself: a complete part is fdatasync'ed, then one
 *            small transaction journals {job, part, offset, length, sha256}; the
 *            journal never claims bytes that are not on disk, and at the next
 *            start every journaled part is hashed again (torn or altered → fetched
 *            again, never trusted).
 *   sqlite — the database: each part is a BLOB committed in its own transaction
 *            (the shard-downloader design); the partial file is rebuilt from the
 *            BLOBs after a restart.
 */
export interface PartStore {
  readonly kind: StoreKind;
  /** Whether a part's bytes must be kept (Part.data) until it is committed. */
  readonly keepsData: boolean;
  /** Whether the partial file is what survives (so it is worth syncing ahead of the commits). */
  readonly syncsFile: boolean;
  /**
   * The job's partial file holding exactly its durable parts, checked, with the file
   * hash fed up to the first gap; `at-dest` when a crash came between the rename and
   * `done` (the file store can tell: its journal hashes match the destination).
   */
  open(job: JobRecord, partSize: number): Promise<JobFiles | 'at-dest'>;
  /** Makes complete parts durable (their writes to the partial file are done); `sha256s[i]` is part i's. */
  commit(job: JobRecord, files: JobFiles, parts: readonly Part[], sha256s: readonly string[]): Promise<void>;
  /** Drops a job's parts (restart from byte 0, cancel, a bad checksum, purge). */
  discard(jobId: number): void;
  /** Drops a done job's parts (its byte count stays: it is the file's size). */
  forget(jobId: number): void;
  /** Bytes of the job's parts held inside the database (not in the partial file). */
  dbBytes(jobId: number): number;
  /** Drops the parts of jobs that are done, cancelled or gone; returns how many rows. */
  sweep(): number;
}
