import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SqliteDatabase } from '../state/state-db.js';

/**
 * WAL checkpoints of the parts DB off the event loop. A checkpoint copies every
 * committed part from the WAL into the DB file and fsyncs both: as SQLite's
 * auto-checkpoint it ran inside the commit that crossed the threshold, blocking
 * the download (and the control socket) for ~100 ms per 64 MiB.
 *
 * Here the downloads connection has wal_autocheckpoint off; once `thresholdBytes`
 * of parts have committed, a worker thread with its own connection runs PASSIVE
 * checkpoints (they never block the writer) until it has nearly caught up. Every
 * `RESTART_EVERY` of those, this thread copies the small remainder so the WAL is
 * fully backfilled and the next commit restarts it from the beginning — the WAL
 * stays a few times `thresholdBytes` long instead of growing with the download
 * (the remainder's copy and fsyncs are what is left on this thread). Crash safety is
 * SQLite's own: a checkpoint interrupted anywhere is redone from the WAL.
 *
 * If the worker cannot start or dies, auto-checkpoints are switched back on.
 */
export class Checkpointer {
  readonly #db: SqliteDatabase;
  readonly #log: Logger;
  readonly #threshold: number;
  readonly #fallbackPages: number;
  #worker: Worker | null = null;
  /** The worker has its connection open. */
  #ready = false;
  #busy = false;
  #waiters: Array<() => void> = [];
  #since = 0;
  #rounds = 0;
  #closed = false;

  constructor(db: SqliteDatabase, path: string, logger: Logger, thresholdBytes: number) {
    this.#db = db;
    this.#log = logger;
    this.#threshold = thresholdBytes;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    this.#fallbackPages = Math.ceil(thresholdBytes / pageSize);
    try {
      this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path } });
      this.#worker.unref();
      this.#worker.on('message', (m: { ready?: boolean; error?: string }) => {
        if (m.ready) {
          this.#ready = true;
          this.committed(0);
        } else this.#done(m.error);
      });
      this.#worker.on('error', (err) => this.#fallback(err));
      this.#worker.on('exit', () => this.#fallback(null));
      db.pragma('wal_autocheckpoint = 0');
    } catch (err) {
      this.#fallback(err);
    }
  }

  /** Called after each part commits. */
  committed(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= this.#threshold && !this.#busy && this.#ready && this.#worker) {
      this.#busy = true;
      this.#since = 0;
      this.#worker.postMessage('checkpoint');
    }
  }

  /** Resolves once the worker is ready and no checkpoint is in flight (for tests). */
  async settled(): Promise<void> {
    while (this.#worker && (!this.#ready || this.#busy)) await new Promise<void>((r) => this.#waiters.push(r));
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }

  #done(error: string | undefined): void {
    this.#busy = false;
    if (error) this.#log.warn({ err: error }, 'background WAL checkpoint failed');
    if (!this.#closed && this.#db.open && ++this.#rounds % RESTART_EVERY === 0) {
      try {
        // The parts committed while the worker ran: copied here so the WAL can restart.
        this.#db.pragma('wal_checkpoint(PASSIVE)');
      } catch (err) {
        this.#log.warn({ err }, 'WAL checkpoint failed');
      }
    }
    this.#wake();
  }

  #fallback(err: unknown): void {
    if (this.#closed) return;
    if (err) this.#log.warn({ err }, 'background WAL checkpoints unavailable; checkpointing in the commits');
    this.#worker = null;
    this.#busy = false;
    this.#wake();
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${this.#fallbackPages}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    this.#wake();
    if (w) await w.terminate();
  }
}

/** Background checkpoints per checkpoint of the remainder on this thread (which lets the WAL restart). */
const RESTART_EVERY = 4;
