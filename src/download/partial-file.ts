import { createHash, type Hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JobStore } from './store.js';

/**
 * `<dest>.partial`, written as the download goes: each part is appended (and
 * hashed) right after its SQLite transaction commits, so completion is fsync +
 * verify + rename instead of re-reading every part and writing the file again.
 *
 * The committed parts stay the durable record. The file is only trusted while
 * the process that wrote it holds this object and its byte count equals the
 * committed bytes; otherwise (agent restart, a failed write) it is rebuilt from
 * the parts — so an uncommitted tail, a short file or bytes an OS crash garbled
 * never reach `dest`.
 */
export class PartialFile {
  readonly path: string;
  #fh: FileHandle | null = null;
  #hash: Hash = createHash('sha256');
  /** Bytes appended (and hashed); writes may still be in flight. */
  #bytes = 0;
  /** The last write in flight; writes are issued one after another. */
  #pending: Promise<void> = Promise.resolve();
  /** The first write error: the file is no longer usable. */
  #error: unknown = null;

  private constructor(path: string) {
    this.path = path;
  }

  /** Bytes appended so far. */
  get bytes(): number {
    return this.#bytes;
  }

  get broken(): boolean {
    return this.#error !== null;
  }

  /** A fresh (truncated) file holding exactly the job's committed parts, hashed. */
  static async rebuild(path: string, store: JobStore, jobId: number): Promise<PartialFile> {
    const pf = new PartialFile(path);
    await pf.#open();
    try {
      // One part is written (thread pool) while the next is read from SQLite and hashed.
      let previous: Promise<void> = Promise.resolve();
      for (let p = store.nextPart(jobId, -1); p; p = store.nextPart(jobId, p.part)) {
        const w = pf.append(p.data);
        await previous;
        previous = w;
      }
      await pf.drain();
    } catch (err) {
      await pf.discard();
      throw err;
    }
    return pf;
  }

  /** An empty file (truncating any left over). */
  static async create(path: string): Promise<PartialFile> {
    const pf = new PartialFile(path);
    await pf.#open();
    return pf;
  }

  async #open(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    this.#fh = await open(this.path, 'w', 0o644);
  }

  /**
   * Hashes `data` and writes it at the end of the file. The returned promise
   * settles when this write is done: `data` must not change until then.
   * Write errors (ENOSPC …) reject it and every later drain().
   */
  append(data: Buffer): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const fh = this.#fh!;
    const position = this.#bytes;
    this.#hash.update(data);
    this.#bytes += data.length;
    const prev = this.#pending;
    const w = (async () => {
      try {
        await prev;
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off, data.length - off, position + off)).bytesWritten;
      } catch (err) {
        this.#error ??= err;
        throw this.#error;
      }
    })();
    w.catch(() => undefined); // surfaced by the caller's await or by drain()
    this.#pending = w;
    return w;
  }

  /** Every write issued so far is done (rejects with the first write error). */
  async drain(): Promise<void> {
    await this.#pending;
    if (this.#error !== null) throw this.#error;
  }

  /** Drops everything: the file is truncated to 0 and the hash restarts. */
  async reset(): Promise<void> {
    await this.#pending.catch(() => undefined);
    this.#error = null;
    this.#pending = Promise.resolve();
    this.#hash = createHash('sha256');
    this.#bytes = 0;
    await this.#fh!.truncate(0);
  }

  /**
   * Waits for the writes, fsyncs and closes: the file is durable. Returns its
   * size on disk and the sha256 of the bytes appended.
   */
  async seal(): Promise<{ size: number; sha256: string }> {
    const fh = this.#fh!;
    try {
      await this.drain();
      await fh.sync();
      const { size } = await fh.stat();
      return { size, sha256: this.#hash.digest('hex') };
    } finally {
      this.#fh = null;
      await fh.close().catch(() => undefined);
    }
  }

  /** Closes (after the writes in flight) and deletes the file. */
  async discard(): Promise<void> {
    await this.#pending.catch(() => undefined);
    const fh = this.#fh;
    this.#fh = null;
    if (fh) await fh.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }

  /** Closes (after the writes in flight), keeping the file. */
  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    const fh = this.#fh;
    this.#fh = null;
    if (fh) await fh.close().catch(() => undefined);
  }
}
