import type { HashStream } from './hash-worker.js';
import type { PartialFile } from './partial-file.js';
import type { Part, PartMap } from './part-map.js';

/**
 * What a job holds while it runs or is paused in this process: `<dest>.partial`,
 * the state of its parts, and the whole-file SHA-256 (fed, in a hash worker, the
 * parts that continue its prefix as they land in the file: in order for one
 * connection; after a gap fills, the parts behind it, read back from the cache).
 */
export class JobFiles {
  readonly partial: PartialFile;
  readonly map: PartMap;
  #hash: HashStream;
  /** Parts whose bytes are all in the file (writes done): the prefix hash may read them. */
  readonly #flushed = new Set<number>();

  constructor(partial: PartialFile, map: PartMap, hash: HashStream) {
    this.partial = partial;
    this.map = map;
    this.#hash = hash;
  }

  /** The part's bytes are all written: feed the file hash as far as the prefix now reaches. */
  flushed(part: Part): void {
    this.#flushed.add(part.index);
    this.advance();
  }

  /** Feeds the file hash with every part (held or flushed) that continues its prefix. */
  advance(): void {
    const map = this.map;
    for (;;) {
      const pos = this.#hash.position;
      if (pos % map.partSize !== 0) return;
      const p = map.parts[pos / map.partSize];
      if (!p || !(p.held || this.#flushed.has(p.index)) || p.length === 0) return;
      this.#flushed.delete(p.index);
      this.#hash.feed(this.partial.fd, p.length);
    }
  }

  /** Bytes the file hash covers (requests may be in flight). */
  get hashed(): number {
    return this.#hash.position;
  }

  /** The whole file's SHA-256, once every part is in the prefix. */
  digest(): Promise<string> {
    return this.#hash.digest();
  }

  /** Starts the file hash again (restart from byte 0). */
  resetHash(hash: HashStream): void {
    this.#hash.drop();
    this.#hash = hash;
    this.#flushed.clear();
  }

  /** Lets the hash requests in flight finish (the descriptor must outlive them). */
  async settle(): Promise<void> {
    await this.#hash.settled().catch(() => undefined);
    await Promise.all(this.map.parts.map((p) => p.hash?.settled().catch(() => undefined)));
  }

  #dropHashes(): void {
    this.#hash.drop();
    for (const p of this.map.parts) p.hash?.drop();
  }

  async close(): Promise<void> {
    await this.settle();
    this.#dropHashes();
    await this.partial.close();
  }

  async discard(): Promise<void> {
    await this.settle();
    this.#dropHashes();
    await this.partial.discard();
  }
}
