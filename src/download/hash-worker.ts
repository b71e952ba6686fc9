import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of file ranges, computed in a worker thread that reads them through
 * the descriptor of `<dest>.partial` (the page cache, usually): hashing at
 * ~1 GB/s would otherwise hold the event loop (and the control socket) for a
 * second per GiB. Jobs use two: one for their parts' hashes (the journal, and
 * the check of journaled parts after a restart), one for the whole file, fed
 * the parts in order.
 *
 * Requests are answered in order. A stream is an incremental hash in the
 * worker: `feed` ranges (no answer: one message per range is all they cost),
 * then `digest`, which fails unless every byte fed was there to read. The
 * caller keeps the descriptor open until `settled()`.
 */

type Request =
  | { op: 'range'; id: number; fd: number; offset: number; length: number }
  | { op: 'feed'; id: number; stream: number; fd: number; offset: number; length: number }
  | { op: 'digest'; id: number; stream: number }
  | { op: 'drop'; id: number; stream: number }
  | { op: 'ping'; id: number };

type Call = Request extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

interface Reply {
  id: number;
  hex?: string;
  /** Bytes actually read (short at the end of the file). */
  read?: number;
  error?: string;
}

interface Pending {
  resolve(r: Reply): void;
  reject(err: Error): void;
}

export interface RangeHash {
  sha256: string;
  /** Bytes read: less than asked when the file ends early (a torn part). */
  read: number;
}

export class HashWorker {
  #worker: Worker | null = null;
  /** Moves when a worker dies: streams of an older one lost their state. */
  #generation = 0;
  #pending = new Map<number, Pending>();
  #next = 1;
  #streams = 0;
  #closed = false;

  /** The worker, started (again, after one died) on first use. */
  #get(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const pending = new Map<number, Pending>();
    this.#pending = pending;
    worker.unref();
    worker.on('message', (r: Reply) => {
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve(r);
    });
    const fail = (err: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#generation++;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  get generation(): number {
    return this.#generation;
  }

  #call(req: Call): Promise<Reply> {
    if (this.#closed) return Promise.reject(new Error('hash worker closed'));
    const worker = this.#get();
    const id = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id });
    });
  }

  /** SHA-256 of `length` bytes at `offset` of the file. */
  async hashRange(fd: number, offset: number, length: number): Promise<RangeHash> {
    const r = await this.#call({ op: 'range', fd, offset, length });
    return { sha256: r.hex!, read: r.read! };
  }

  /** A new incremental hash of the file's bytes from `start` on. */
  stream(start = 0): HashStream {
    return new HashStream(this, ++this.#streams, start, this.#generation);
  }

  /** @internal Sent, not answered. */
  feed(stream: number, fd: number, offset: number, length: number): void {
    if (this.#closed) return;
    this.#get().postMessage({ op: 'feed', id: 0, stream, fd, offset, length });
  }

  /** @internal The digest and how many bytes the feeds could read. */
  async digest(stream: number): Promise<{ hex: string; read: number }> {
    const r = await this.#call({ op: 'digest', stream });
    return { hex: r.hex!, read: r.read! };
  }

  /** Resolves once every request sent before it is answered (the descriptors they read may close then). */
  async ping(): Promise<void> {
    if (!this.#worker) return;
    await this.#call({ op: 'ping' }).catch(() => undefined);
  }

  /** @internal */
  drop(stream: number): void {
    this.#worker?.postMessage({ op: 'drop', id: 0, stream });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }
}

/** An incremental SHA-256 fed with ranges of a file, in the worker. */
export class HashStream {
  readonly #worker: HashWorker;
  readonly #id: number;
  readonly #generation: number;
  readonly #start: number;
  /** Offset of the next byte to feed (requests may still be in flight). */
  position: number;

  constructor(worker: HashWorker, id: number, start: number, generation: number) {
    this.#worker = worker;
    this.#id = id;
    this.#start = start;
    this.position = start;
    this.#generation = generation;
  }

  /** The worker holding this stream's state died: a digest now would be of part of the bytes. */
  #check(): void {
    if (this.#worker.generation !== this.#generation) throw new Error('the hash worker restarted; this hash is lost');
  }

  /** Hashes the next `length` bytes of the file (at `position`), in the worker. */
  feed(fd: number, length: number): void {
    this.#check();
    this.#worker.feed(this.#id, fd, this.position, length);
    this.position += length;
  }

  /** The hex digest of everything fed (the stream ends); fails when the file ended before a fed byte. */
  async digest(): Promise<string> {
    this.#check();
    const { hex, read } = await this.#worker.digest(this.#id);
    this.#check();
    const fed = this.position - this.#start;
    if (read !== fed) throw new Error(`file ended at byte ${this.#start + read} while hashing up to ${this.position}`);
    return hex;
  }

  drop(): void {
    this.#worker.drop(this.#id);
  }

  /** Every feed sent so far has been read. */
  settled(): Promise<void> {
    return this.#worker.ping();
  }
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const buf = Buffer.allocUnsafe(1 << 20);
const streams = new Map();
function hashInto(hash, fd, offset, length) {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), offset + done);
    if (n === 0) break;
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    done += n;
  }
  return done;
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'range') {
      const h = createHash('sha256');
      const read = hashInto(h, m.fd, m.offset, m.length);
      parentPort.postMessage({ id: m.id, hex: h.digest('hex'), read });
    } else if (m.op === 'feed') {
      let s = streams.get(m.stream);
      if (!s) streams.set(m.stream, (s = { hash: createHash('sha256'), read: 0, short: false }));
      // After a short read (the file ended) the stream only counts: its digest is refused.
      if (s.short) return;
      const n = hashInto(s.hash, m.fd, m.offset, m.length);
      s.read += n;
      if (n < m.length) s.short = true;
    } else if (m.op === 'digest') {
      const s = streams.get(m.stream) || { hash: createHash('sha256'), read: 0 };
      streams.delete(m.stream);
      parentPort.postMessage({ id: m.id, hex: s.hash.digest('hex'), read: s.read });
    } else if (m.op === 'drop') {
      streams.delete(m.stream);
    } else if (m.op === 'ping') {
      parentPort.postMessage({ id: m.id });
    }
  } catch (err) {
    if (m.op === 'feed') {
      // A feed is not answered: its stream is spoiled, the digest says so.
      const s = streams.get(m.stream);
      if (s) s.short = true;
      return;
    }
    parentPort.postMessage({ id: m.id, error: String((err && err.code) || (err && err.message) || err) });
  }
});
`;
