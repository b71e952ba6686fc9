import type { Logger } from 'pino';
import type { JobRecord, SourceRecord } from './job.js';
import type { JobTable } from './job-table.js';

/**
 * The mirrors of a job in transfer: which are still usable, which lane takes
 * which, and why one was dropped — skipped (it failed: the router's verdict) or
 * refused (its file differs from the job's) — saved with the job so `download
 * info` shows them and a restart keeps them.
 */
export class Sources {
  readonly #job: JobRecord;
  readonly #table: JobTable;
  readonly #log: Logger;
  /** Why the last source was dropped: the job's error when none is left. */
  lastDrop: string | null = null;

  constructor(job: JobRecord, table: JobTable, log: Logger) {
    this.#job = job;
    this.#table = table;
    this.#log = log;
  }

  usable(): SourceRecord[] {
    return this.#job.sources.filter((s) => s.state === 'usable');
  }

  /** Lane k's mirror: the usable ones in turn; null when none is left. */
  forLane(lane: number): SourceRecord | null {
    const usable = this.usable();
    return usable.length === 0 ? null : usable[lane % usable.length]!;
  }

  /** Whether another source than `source` is still usable. */
  hasOther(source: SourceRecord): boolean {
    return this.usable().some((s) => s !== source);
  }

  /** The source's file differs from the job's: not used again by this job. Returns whether any source is left. */
  refuse(source: SourceRecord, reason: string): boolean {
    if (source.state === 'usable') {
      source.state = 'refused';
      source.last_error = reason;
      this.lastDrop = `no usable source left: ${source.url} refused: ${reason}`;
      this.save();
      this.#log.warn({ job: this.#job.id, source: source.url, reason }, 'mirror refused for this job');
    }
    return this.usable().length > 0;
  }

  /** The source failed (host failure): skipped for this job. Returns whether any source is left. */
  skip(source: SourceRecord, reason: string): boolean {
    if (source.state === 'usable') {
      source.state = 'skipped';
      this.lastDrop = reason;
      this.save();
      this.#log.warn({ job: this.#job.id, source: source.url, reason }, 'mirror skipped for this job');
    }
    return this.usable().length > 0;
  }

  /** Persists the sources (their states, bytes and errors) with the job. */
  save(): void {
    this.#table.update(this.#job.id, { sources: this.#job.sources });
  }
}
