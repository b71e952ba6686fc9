import type { HashWorker } from './hash-worker.js';
import type { JobRecord } from './job.js';
import type { JobFiles } from './job-files.js';
import type { Part } from './part-map.js';
import type { PartStore } from './part-store.js';

/**
 * Makes a transfer's complete parts durable, one commit at a time, each for
 * every part that completed meanwhile (one fdatasync for all of them):
 *
 *   - as the lanes' writes land in `<dest>.partial` (written()), each part's
 *     SHA-256 is fed to a hash worker, so its digest is ready when it completes;
 *   - with a store whose partial file is the durable copy, the file is
 *     fdatasync'ed in the background every SYNC_AHEAD bytes, so the commit's own
 *     fdatasync finds little left to write;
 *   - commit(part) resolves once the store has the part (journaled or a BLOB).
 */

/** Bytes between two background fdatasyncs of the partial file. */
const SYNC_AHEAD = 4 * 1024 * 1024;
/** A part's hash is fed (one message to its worker) every this many bytes written, and at its end. */
const FEED_EVERY = 1024 * 1024;

/** A complete part waiting for the commit, and who waits for it. */
interface Queued {
  part: Part;
  resolve(): void;
  reject(err: unknown): void;
}

export interface CommitterDeps {
  store: PartStore;
  partHasher: HashWorker;
  /** A background fdatasync failed (EIO…): the transfer fails. */
  onError(err: unknown): void;
  /** After each commit: the job's bytes moved (the transfer saves its sources then). */
  onCommitted(): void;
}

export class Committer {
  readonly #job: JobRecord;
  readonly #files: JobFiles;
  readonly #d: CommitterDeps;
  #queue: Queued[] = [];
  #running: Promise<void> | null = null;
  #error: unknown = null;
  #unsynced = 0;
  #syncing = false;
  /** Bytes of each part written and not yet fed to its hash (they follow the hash's position). */
  readonly #unfed = new WeakMap<Part, number>();
  /** Where the commits' time goes, for the log. */
  readonly timings = { hashWaitMs: 0, commitMs: 0, commits: 0 };

  constructor(job: JobRecord, files: JobFiles, deps: CommitterDeps) {
    this.#job = job;
    this.#files = files;
    this.#d = deps;
  }

  /** A lane's writer reports a run of bytes in the file (runs of one part come in order). */
  written(offset: number, length: number): void {
    const part = this.#files.map.at(offset);
    if (offset === part.offset && part.written > 0 && !part.hash) part.hash = this.#d.partHasher.stream(part.offset);
    const hash = part.hash;
    const unfed = this.#unfed.get(part) ?? 0;
    if (hash && hash.position + unfed === offset) {
      this.#unfed.set(part, unfed + length);
      if (unfed + length >= FEED_EVERY || offset + length === part.offset + part.length) this.#feed(part);
    } else if (hash) {
      // Not in order: hashed from the file at the commit.
      hash.drop();
      part.hash = null;
      this.#unfed.delete(part);
    }
    if (!this.#d.store.syncsFile) return;
    this.#unsynced += length;
    if (this.#unsynced >= SYNC_AHEAD && !this.#syncing) {
      this.#unsynced = 0;
      this.#syncing = true;
      this.#files.partial.datasync().then(
        () => void (this.#syncing = false),
        (err: unknown) => this.#d.onError(err),
      );
    }
  }

  /** Sends what was written of the part since its last feed. */
  #feed(part: Part): void {
    const unfed = this.#unfed.get(part) ?? 0;
    if (!part.hash || unfed === 0) return;
    this.#unfed.set(part, 0);
    part.hash.feed(this.#files.partial.fd, unfed);
  }

  /** Resolves once the (complete, written) part is durable. */
  commit(part: Part): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ part, resolve, reject });
      this.#running ??= this.#loop().finally(() => (this.#running = null));
    });
  }

  /** Waits for every commit queued; throws the first commit error. */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#error) throw this.#error;
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const started = performance.now();
      try {
        const parts = batch.map((q) => q.part);
        const hashes = await Promise.all(parts.map((p) => this.#sha256(p)));
        this.timings.hashWaitMs += performance.now() - started;
        await this.#d.store.commit(this.#job, this.#files, parts, hashes);
        this.timings.commitMs += performance.now() - started;
        this.timings.commits++;
      } catch (err) {
        this.#error ??= err;
        for (const q of [...batch, ...this.#queue.splice(0)]) q.reject(err);
        return;
      }
      for (const { part } of batch) {
        part.held = true;
        part.data = null;
        part.hash = null;
        part.lane = -1;
      }
      this.#job.bytes = this.#files.map.heldBytes();
      this.#d.onCommitted();
      for (const q of batch) q.resolve();
    }
  }

  /** The part's digest as fed while it was written, else (fed out of order) read back from the file. */
  async #sha256(p: Part): Promise<string> {
    this.#feed(p);
    const fed = p.hash && p.hash.position === p.offset + p.length ? await p.hash.digest().catch(() => null) : null;
    if (fed) return fed;
    p.hash?.drop();
    return (await this.#d.partHasher.hashRange(this.#files.partial.fd, p.offset, p.length)).sha256;
  }
}
