import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { DownloadsConfig } from '../config/schema.js';
import { undici } from '../net/undici.js';
import { ProxyctlError } from '../errors.js';
import type { FailureEvidence, ProxyAttempt, ProxyJob, ProxyRouter } from '../upstream/api.js';
import { Committer } from './committer.js';
import { Sources } from './sources.js';
import type { HashStream, HashWorker } from './hash-worker.js';
import type { JobRecord, SourceRecord } from './job.js';
import type { JobFiles } from './job-files.js';
import type { JobTable } from './job-table.js';
import { LaneWriter } from './lane-writer.js';
import type { Part, Run } from './part-map.js';
import type { PartStore } from './part-store.js';
import { afterRangeNotSatisfiable, checkOffsetAgainstTotal, contentLength, decideResponse, rangeHeaders, type ByteRange, type ResponseDecision } from './range-resume.js';
import { RateLimiter, sliceUnder } from './rate-limiter.js';
import { checkSpace, type SpaceNeed } from './space.js';

/**
 * The transfer of one job: up to N connections ("lanes"), each fetching a run of
 * parts with one request (the whole rest of the file with one connection, one
 * part at a time with several), from the job's mirrors in turn and through the
 * proxy the router picks for the lane. Bytes go into `<dest>.partial` at their
 * offsets; a complete part goes to the store's committer.
 *
 * Failures are the router's to judge: a lane hands it the evidence and carries
 * out the decision (retry after a delay, skip the mirror, fail the job). What a
 * response means for the file (Range honoured or not, size, ETag) is decided
 * here, from range-resume.ts's rules:
 *   - a mirror whose size differs from the job's, or that answers 416 or a 206 of
 *     another file, is refused for the job while others remain;
 *   - a 200 to a ranged request becomes the whole file in one connection when
 *     nothing is held yet; a server that ignores Range is refused while another
 *     mirror honours it; a lone source that did so (or whose file changed) makes
 *     the job restart from byte 0.
 */

export type StopReason = 'pause' | 'cancel' | 'close';

/** The job fails with this message (no retry can help): no source left, a size or checksum mismatch, … */
export class JobFailure extends ProxyctlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PXC_ERR_DOWNLOAD_FAILED', message, options);
    this.name = 'JobFailure';
  }
}

export interface TransferMetrics {
  bytes(n: number): void;
  resume(): void;
  restart(): void;
  failover(): void;
  retry(): void;
}

export interface TransferDeps {
  router: ProxyRouter;
  store: PartStore;
  table: JobTable;
  config: DownloadsConfig;
  global: RateLimiter;
  metrics: TransferMetrics;
  log: Logger;
  /** Waits `ms` unless the signal aborts (tests pass a faster clock). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A fresh whole-file hash (after a restart from byte 0). */
  newHash(): HashStream;
  /** Hashes the parts as their bytes land. */
  partHasher: HashWorker;
  /** The directory of the database, for the space check of a store that holds bytes there. */
  dbDir: string;
  /** The CA file the job trusts (its own, else downloads.ca_file), resolved. */
  caFile: string | null;
}

const USER_AGENT = 'proxyctl-download/1';
/** A kept-alive connection older than this (undici closes idle ones after 4 s) is not reused. */
const KEEP_ALIVE_MS = 4000;
/** Errors of a request written onto a connection the other side had just closed. */
const STALE_SOCKET = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** A status the router classifies (the response is discarded). */
class StatusFailure extends Error {
  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string | string[] | undefined>>,
  ) {
    super(`HTTP ${status}`);
  }
}

/** One connection of the transfer. */
interface Lane {
  readonly id: number;
  ctrl: AbortController | null;
  attempt: ProxyAttempt | null;
  /** Body bytes of the current request (the low-speed window counts them). */
  bytes: number;
  windowBytes: number;
  windowStart: number;
  slow: boolean;
  /** Its request was aborted by the transfer itself (restart, one connection takes over): not a failure. */
  cancelled: boolean;
  /** Commits of parts this lane completed, not yet durable. */
  commits: Array<Promise<void>>;
  /** It already retried a request that died on a reused connection. */
  staleRetried: boolean;
}


export class Transfer {
  readonly job: JobRecord;
  readonly files: JobFiles;
  readonly #d: TransferDeps;
  readonly #pjob: ProxyJob;
  readonly #limiter: RateLimiter;
  readonly #lanes = new Map<number, Lane>();
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #stopReason: StopReason | null = null;
  #fatal: Error | null = null;
  #connections: number;
  /** One connection for the rest of the file (one requested, no Range, or the size unknown). */
  #sequential: boolean;
  #spaceChecked = false;
  readonly #sources: Sources;
  /** The lane that has the whole rest of the file in sequential mode. */
  #owner = 0;
  readonly #committer: Committer;
  /** Requests of this run so far (the first one of a job holding bytes is a resume). */
  #requests = 0;
  #restarting: Promise<void> | null = null;
  #proxy: string | null;
  /** When a request through each proxy (DIRECT: '') last ended well: its connection went back to the pool. */
  readonly #okAt = new Map<string, number>();
  /** Where the time of a transfer goes, for the log: lanes waiting for their last part to be durable, and the commits. */
  get timings(): { durableWaitMs: number; hashWaitMs: number; commitMs: number; commits: number } {
    return { durableWaitMs: this.#durableWaitMs, ...this.#committer.timings };
  }
  #durableWaitMs = 0;

  constructor(job: JobRecord, files: JobFiles, deps: TransferDeps) {
    this.job = job;
    this.files = files;
    this.#d = deps;
    this.#limiter = new RateLimiter(job.max_rate);
    this.#connections = Math.max(1, job.connections ?? deps.config.connections);
    this.#sequential = this.#connections === 1 || (files.map.total === null && !files.map.untouched());
    this.#proxy = job.proxy;
    this.#sources = new Sources(job, deps.table, deps.log);
    this.#committer = new Committer(job, files, { store: deps.store, partHasher: deps.partHasher, onError: (err) => this.#fail(err), onCommitted: () => this.#sources.save() });
    const sources = this.#sources;
    this.#pjob = {
      key: job.sha256 ?? job.url,
      get sources() {
        return sources.usable().map((s) => s.url);
      },
      maxRetries: deps.config.max_retries,
      caFile: deps.caFile,
      plan: null,
    };
  }

  // ---- what the queue reads --------------------------------------------

  /** Bytes received so far (held parts and what arrived of the others). */
  bytes(): number {
    return this.files.map.receivedBytes();
  }

  total(): number | null {
    return this.files.map.total;
  }

  get proxy(): string | null {
    return this.#proxy;
  }

  get activeConnections(): number {
    let n = 0;
    for (const l of this.#lanes.values()) if (l.ctrl) n++;
    return n;
  }

  get connections(): number {
    return this.#connections;
  }

  get stopReason(): StopReason | null {
    return this.#stopReason;
  }

  /** Aborts every request (and backoff wait) within a read. */
  stop(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#stop.abort(new Error(`download ${reason}`));
    for (const l of this.#lanes.values()) l.ctrl?.abort(new Error(`download ${reason}`));
  }

  /** Once a second: the low-speed check of every lane (a slow one is aborted and reported slow). */
  tick(now: number): void {
    const active = Math.max(1, this.activeConnections);
    const cap = Math.min(this.#limiter.rate || Infinity, this.#d.global.rate || Infinity) / active;
    for (const lane of this.#lanes.values()) {
      const a = lane.attempt;
      if (!a || !lane.ctrl || a.lowSpeedLimit <= 0) continue;
      if (now - lane.windowStart < a.lowSpeedTimeMs) continue;
      const bps = ((lane.bytes - lane.windowBytes) * 1000) / (now - lane.windowStart);
      if (bps < a.lowSpeedLimit && cap >= a.lowSpeedLimit) {
        lane.slow = true;
        lane.ctrl.abort(new Error(`transfer slower than ${a.lowSpeedLimit} B/s`));
      }
      lane.windowBytes = lane.bytes;
      lane.windowStart = now;
    }
  }

  // ---- the run ---------------------------------------------------------

  /** Fetches until every part is held ('complete') or the job is stopped. Throws when the job fails. */
  async run(): Promise<'complete' | 'stopped'> {
    try {
      return await this.#runLanes();
    } finally {
      // What each source delivered, as far as it got (commits save it on the way too).
      this.#sources.save();
    }
  }

  async #runLanes(): Promise<'complete' | 'stopped'> {
    const map = this.files.map;
    if (map.total !== null) await this.#checkSpace();
    for (;;) {
      this.#spawn();
      while (this.#running.size > 0) await Promise.race(this.#running);
      // A lane that let go of a part after the others ended (its mirror was dropped) leaves work: go on.
      if (this.#ended() || map.complete() || this.#sources.usable().length === 0) break;
      if (map.total !== null && map.freeCount() === 0) break;
    }
    await this.#drainCommits();
    if (this.#fatal) throw this.#fatal;
    if (this.#stopReason) return 'stopped';
    if (this.files.map.complete()) return 'complete';
    if (this.#sources.usable().length === 0) throw new JobFailure(this.#sources.lastDrop ?? 'no usable source left');
    throw new JobFailure('the transfer stopped before the file was complete');
  }

  #ended(): boolean {
    return this.#stopReason !== null || this.#fatal !== null;
  }

  /** Starts lanes up to the job's connections while there is unclaimed work. */
  #spawn(): void {
    if (this.#ended()) return;
    // One lane (the owner of the rest of the file, or the first asking while the size is unknown), else all of them.
    const ids = this.#sequential ? [this.#owner] : this.files.map.total === null ? [0] : Array.from({ length: this.#connections }, (_, i) => i);
    for (const id of ids) {
      if (this.#lanes.has(id)) continue;
      if (this.files.map.total !== null && this.files.map.freeCount() === 0) return;
      const lane: Lane = { id, ctrl: null, attempt: null, bytes: 0, windowBytes: 0, windowStart: 0, slow: false, cancelled: false, commits: [], staleRetried: false };
      this.#lanes.set(id, lane);
      const p: Promise<void> = this.#lane(lane)
        .catch((err: unknown) => this.#fail(err))
        .finally(() => {
          this.#lanes.delete(id);
          this.#running.delete(p);
        });
      this.#running.add(p);
    }
  }

  #fail(err: unknown): void {
    if (this.#stopReason) return;
    this.#fatal ??= err instanceof Error ? err : new Error(String(err));
    for (const l of this.#lanes.values()) l.ctrl?.abort(this.#fatal);
    this.#stop.abort(this.#fatal);
  }

  async #lane(lane: Lane): Promise<void> {
    const map = this.files.map;
    while (!this.#ended()) {
      if (this.#restarting) await this.#restarting;
      if (this.#sequential && lane.id !== this.#owner) return;
      // Until the size is known only the first lane asks (its answer says whether Range works).
      if (!this.#sequential && map.total === null && lane.id !== 0) return;
      const source = this.#sources.forLane(lane.id);
      if (!source) return;
      const run = map.claim(lane.id, this.#sequential);
      if (!run) return;
      try {
        await this.#request(lane, source, run);
      } finally {
        map.release(lane.id);
      }
      for (const c of lane.commits.splice(0)) await c;
    }
  }

  /** One request for `run` from `source`; its failures are judged by the router and carried out here. */
  async #request(lane: Lane, source: SourceRecord, run: Run): Promise<void> {
    const map = this.files.map;
    const range: ByteRange = { start: map.runStart(run), end: map.runEnd(run) };
    // To the end of the file: an open range (`bytes=N-`), and no Range at all from byte 0.
    if (this.#sequential && range.end !== null && range.end === map.total) range.end = null;
    const attempt = this.#d.router.attempt(this.#pjob, source.url, lane.id);
    this.#proxy = attempt.proxy;
    const continuing = range.start > 0 && (map.parts[run.first]!.written > 0 || (this.#requests === 0 && map.heldBytes() > 0));
    this.#requests++;
    this.job.attempts++;
    if (continuing) {
      this.job.resumes++;
      this.#d.metrics.resume();
    }
    this.#d.table.update(this.job.id, { attempts: this.job.attempts, resumes: this.job.resumes, proxy: attempt.proxy });
    const ctrl = new AbortController();
    lane.ctrl = ctrl;
    lane.attempt = attempt;
    lane.bytes = 0;
    lane.windowBytes = 0;
    lane.windowStart = Date.now();
    lane.slow = false;
    lane.cancelled = false;
    const writer = new LaneWriter(this.files.partial, (offset, length) => this.#committer.written(offset, length));
    let status: number | undefined;
    try {
      if (this.#ended()) return;
      const res = await undici().request(source.url, {
        method: 'GET',
        headers: this.#headers(range, source),
        dispatcher: attempt.dispatcher,
        signal: AbortSignal.any([ctrl.signal, this.#stop.signal]),
        headersTimeout: attempt.timeoutMs,
        bodyTimeout: this.#d.config.idle_timeout * 1000,
      });
      status = res.statusCode;
      const d = decideResponse(range, { etag: source.etag, lastModified: source.last_modified }, res.statusCode, res.headers);
      if (d.kind === 'status') {
        await res.body.dump().catch(() => undefined);
        throw new StatusFailure(d.status, res.headers);
      }
      if (d.kind === 'not-satisfiable' || d.kind === 'mismatch') {
        await res.body.dump().catch(() => undefined);
        if (d.kind === 'not-satisfiable') return await this.#notSatisfiable(lane, source, range, attempt, ctrl.signal);
        if (this.#sources.hasOther(source)) this.#refuse(source, `answered a ranged request with another file: ${d.reason}`);
        else await this.#restartFromZero(lane, d.reason);
        return;
      }
      // Pull the body at once, before any await: undici fails a response whose body was not yet read
      // when the server closes the kept-alive connection (tinyproxy does after each response).
      const body = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const first = body.next();
      first.catch(() => undefined);
      const start = await this.#accept(lane, source, d, range, res.statusCode).catch(async (err: unknown) => {
        await body.return?.();
        throw err;
      });
      if (start === null) {
        await body.return?.();
        return;
      }
      // The first answer told the size: the other connections can start.
      if (!this.#sequential && this.#lanes.size < this.#connections) this.#spawn();
      // A 200 is the whole file, whatever was asked; a 206 is the range asked.
      await this.#body(lane, source, body, first, start, d.kind === 'append' ? range.end : null, writer);
      this.#d.router.reportSuccess(this.#pjob, attempt);
      this.#okAt.set(attempt.proxy ?? '', Date.now());
      lane.staleRetried = false;
    } catch (err) {
      await writer.settle();
      if (this.#ended() || lane.cancelled) return;
      if (err instanceof JobFailure || isLocalIoError(err)) throw err;
      // A request that died before any answer on a connection just handed back to the pool met
      // a proxy or server closing that idle connection (tinyproxy does after each response):
      // once, it goes again on a fresh one, as browsers do, and blames nobody.
      const reused = Date.now() - (this.#okAt.get(attempt.proxy ?? '') ?? 0) < KEEP_ALIVE_MS;
      if (status === undefined && lane.bytes === 0 && !lane.staleRetried && reused && STALE_SOCKET.has(codeOf(err))) {
        lane.staleRetried = true;
        this.#d.log.debug({ job: this.job.id, lane: lane.id, err: codeOf(err) }, 'request died on a reused connection; sending it again on a new one');
        return;
      }
      await this.#failed(lane, source, attempt, err, status);
    } finally {
      await writer.settle();
      lane.ctrl = null;
      lane.attempt = null;
    }
  }

  #headers(range: ByteRange, source: SourceRecord): Record<string, string> {
    const h: Record<string, string> = {};
    let ua = false;
    for (const [name, value] of this.job.headers) {
      h[name.toLowerCase()] = value;
      if (name.toLowerCase() === 'user-agent') ua = true;
    }
    if (!ua) h['user-agent'] = USER_AGENT;
    return { ...h, ...rangeHeaders(range, { etag: source.etag, lastModified: source.last_modified }) };
  }

  /**
   * A response with a body for the file: checks it against the job (size, Range)
   * and returns the offset the body starts at, or null when it is of no use
   * (the source was refused, or the job restarted).
   */
  async #accept(lane: Lane, source: SourceRecord, d: Extract<ResponseDecision, { total: number | null }>, range: ByteRange, status: number): Promise<number | null> {
    const map = this.files.map;
    const total = d.kind === 'append' ? d.total : d.total;
    if (d.kind === 'whole-file') {
      // Unless nothing is held yet (then this body simply is the file), a server that ignores
      // Range is refused while another mirror remains, and a lone one restarts the job.
      if (!map.untouched() || this.#restarting !== null) {
        if (this.#sources.hasOther(source)) {
          this.#refuse(source, `does not honour Range (${d.reason})`);
          return null;
        }
        await this.#restartFromZero(lane, d.reason, total);
        if (this.#ended()) return null;
      }
      this.#goSequential(lane, total);
      this.#noteValidators(source, d.validators);
      await this.#learnTotal(source, total, status);
      return 0;
    }
    if (total !== null && map.total !== null && total !== map.total) {
      const reason = `size ${total} differs from the job's ${map.total}`;
      if (this.#sources.hasOther(source)) this.#refuse(source, reason);
      else await this.#restartFromZero(lane, `the file changed (${reason})`);
      return null;
    }
    this.#noteValidators(source, d.validators);
    if (d.kind === 'fresh') this.#goSequential(lane, total);
    await this.#learnTotal(source, total, status);
    return range.start;
  }

  /** The rest of the file goes through this lane alone (no Range, or the size unknown). */
  #goSequential(lane: Lane, total: number | null): void {
    const map = this.files.map;
    this.#owner = lane.id;
    if (!this.#sequential) {
      this.#sequential = true;
      for (const l of this.#lanes.values()) {
        if (l === lane) continue;
        l.cancelled = true;
        l.ctrl?.abort(new Error('one connection takes the whole file'));
      }
    }
    if (map.total === null && total !== null) map.setTotal(total);
    // Every part from here on is this lane's.
    for (const p of map.parts) if (!p.held && p.lane < 0) p.lane = lane.id;
  }

  /** Records the size the first response tells, and checks the space for the rest. */
  async #learnTotal(source: SourceRecord, total: number | null, status: number): Promise<void> {
    const map = this.files.map;
    if (total === null) return;
    if (map.total === null) {
      const beyond = checkOffsetAgainstTotal(map.receivedBytes(), total);
      if (beyond) throw new JobFailure(beyond);
      map.setTotal(total);
    }
    if (this.job.total !== total) {
      this.job.total = total;
      this.#d.table.update(this.job.id, { total });
      this.#d.log.debug({ job: this.job.id, total, status, source: source.url }, 'file size known');
    }
    if (!this.#spaceChecked) await this.#checkSpace();
  }

  #noteValidators(source: SourceRecord, v: { etag: string | null; lastModified: string | null }): void {
    if (source.etag === v.etag && source.last_modified === v.lastModified) return;
    if (source.etag === null && source.last_modified === null) {
      source.etag = v.etag;
      source.last_modified = v.lastModified;
      this.#sources.save();
    }
  }

  async #checkSpace(): Promise<void> {
    const total = this.files.map.total;
    if (total === null) return;
    this.#spaceChecked = true;
    const onDisk = await this.files.partial.allocated();
    const needs: SpaceNeed[] = [{ dir: dirname(this.job.dest), bytes: total - onDisk }];
    if (this.#d.store.kind === 'sqlite') needs.push({ dir: this.#d.dbDir, bytes: total - this.#d.store.dbBytes(this.job.id) });
    await checkSpace(needs);
  }

  /** Streams a body into the file from `start`, part by part; throws when it ends early. */
  async #body(lane: Lane, source: SourceRecord, body: AsyncIterator<Buffer>, first: Promise<IteratorResult<Buffer>>, start: number, end: number | null, writer: LaneWriter): Promise<void> {
    let done = false;
    try {
      done = await this.#consume(lane, source, body, first, start, end, writer);
    } finally {
      // Stopped before the end (more than asked, a stop, an error): the response is dropped.
      if (!done) await body.return?.().catch(() => undefined);
    }
  }

  /** The body loop of #body; true when the body was read to its end. */
  async #consume(lane: Lane, source: SourceRecord, body: AsyncIterator<Buffer>, first: Promise<IteratorResult<Buffer>>, start: number, end: number | null, writer: LaneWriter): Promise<boolean> {
    const map = this.files.map;
    const keep = this.#d.store.keepsData;
    const limiter = this.#limiter;
    const global = this.#d.global;
    const signal = lane.ctrl!.signal;
    const stop = end ?? map.total;
    let pos = start;
    let part = map.at(pos);
    for (let r = await first; !r.done; r = await body.next()) {
      const chunk = r.value;
      if (this.#ended() || signal.aborted) return false;
      let off = 0;
      while (off < chunk.length) {
        if (stop !== null && pos >= stop) return false; // more than asked (or than the file): the run is done
        if (pos >= part.offset + part.length) {
          // The next part begins once the one before the last is durable: the last part's commit
          // (fdatasync, journal) runs while this one arrives, and a crash costs at most two parts.
          writer.cut();
          if (lane.commits.length > 1) {
            const waited = performance.now();
            for (const c of lane.commits.splice(0, lane.commits.length - 1)) await c;
            this.#durableWaitMs += performance.now() - waited;
          }
          if (this.#ended() || signal.aborted) return false;
          part = map.at(pos);
        }
        if (part.held) throw new JobFailure(`the body ran into part ${part.index}, which is held`);
        part.lane = lane.id;
        let n = Math.min(part.offset + part.length - pos, chunk.length - off);
        if (limiter.rate > 0 || global.rate > 0) {
          // Under a limit the chunk goes on in burst-sized slices, each after its slot.
          n = Math.min(n, sliceUnder(limiter, global));
          await limiter.take(n, signal);
          await global.take(n, signal);
          if (this.#ended() || signal.aborted) return false;
        }
        const slice = off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n);
        const wait = writer.add(slice, pos);
        if (keep) {
          part.data ??= Buffer.allocUnsafe(part.length);
          slice.copy(part.data, pos - part.offset);
        }
        part.written = pos + n - part.offset;
        pos += n;
        off += n;
        if (wait) await wait;
        if (part.written === part.length) await this.#completed(lane, part, writer);
      }
      lane.bytes += chunk.length;
      source.bytes += chunk.length;
      this.#d.metrics.bytes(chunk.length);
    }
    if (this.#ended()) return true;
    if (map.total === null) {
      // No size was announced: the stream's end is the file's.
      map.finishAt(pos);
      this.job.total = pos;
      this.#d.table.update(this.job.id, { total: pos });
      if (pos > part.offset && !part.queued && part.written === part.length) await this.#completed(lane, part, writer);
      return true;
    }
    const want = end ?? map.total;
    if (pos < want) throw Object.assign(new Error(`the response ended at byte ${pos} of ${want}`), { code: 'UND_ERR_SOCKET' });
    return true;
  }

  /** A part is complete: once its writes landed it joins the prefix hash and the committer. */
  async #completed(lane: Lane, part: Part, writer: LaneWriter): Promise<void> {
    part.queued = true;
    const commit = writer.flush().then(() => {
      this.files.flushed(part);
      return this.#committer.commit(part);
    });
    commit.catch((err: unknown) => this.#fail(err));
    lane.commits.push(commit);
  }

  /** Every commit queued has landed; a failed one fails the transfer. */
  async #drainCommits(): Promise<void> {
    try {
      await this.#committer.drain();
    } catch (err) {
      this.#fatal ??= err instanceof Error ? err : new Error(String(err));
    }
  }

  #refuse(source: SourceRecord, reason: string): void {
    if (!this.#sources.refuse(source, reason)) throw new JobFailure(this.#sources.lastDrop!);
  }

  /**
   * Drops every part and starts again from byte 0 (the file changed, or Range was
   * ignored). The other lanes stop first, so none of their writes lands afterwards.
   */
  async #restartFromZero(lane: Lane, reason: string, total: number | null = null): Promise<void> {
    if (this.#restarting) return this.#restarting;
    this.#restarting = (async () => {
      this.job.restarts++;
      this.#d.metrics.restart();
      this.#d.log.warn({ job: this.job.id, reason }, 'what is held does not fit the file any more: restarting from byte 0');
      for (const l of this.#lanes.values()) {
        if (l === lane) continue;
        l.cancelled = true;
        l.ctrl?.abort(new Error('restart from byte 0'));
      }
      while ([...this.#lanes.values()].some((l) => l !== lane && l.ctrl)) await new Promise((r) => setImmediate(r));
      await this.#drainCommits();
      for (const l of this.#lanes.values()) for (const c of l.commits.splice(0)) await c.catch(() => undefined);
      await this.#drainCommits();
      await this.files.settle();
      this.#d.store.discard(this.job.id);
      await this.files.partial.truncate(0);
      for (const p of this.files.map.parts) p.hash?.drop();
      this.files.map.reset(total);
      this.files.resetHash(this.#d.newHash());
      for (const s of this.job.sources) {
        s.etag = null;
        s.last_modified = null;
      }
      this.job.total = total;
      this.job.bytes = 0;
      this.#spaceChecked = false;
      this.#d.table.update(this.job.id, { restarts: this.job.restarts, total, bytes: 0, sources: this.job.sources });
    })();
    try {
      await this.#restarting;
    } finally {
      this.#restarting = null;
    }
  }

  /** 416 for bytes from `range.start`: the size without a range decides. */
  async #notSatisfiable(lane: Lane, source: SourceRecord, range: ByteRange, attempt: ProxyAttempt, signal: AbortSignal): Promise<void> {
    if (this.#sources.hasOther(source)) {
      this.#refuse(source, `answered 416 to bytes from ${range.start}: its file is shorter`);
      return;
    }
    const map = this.files.map;
    const res = await undici().request(source.url, { method: 'HEAD', headers: this.#headers({ start: 0, end: null }, source), dispatcher: attempt.dispatcher, signal, headersTimeout: attempt.timeoutMs });
    await res.body.dump().catch(() => undefined);
    const size = res.statusCode === 200 ? contentLength(res.headers) : null;
    // Complete only when every byte before the range is there and the file ends there.
    const held = map.receivedBytes();
    const verdict = afterRangeNotSatisfiable(held === range.start ? range.start : held, size);
    if (verdict.kind === 'fail' || held !== range.start) throw new JobFailure(verdict.kind === 'fail' ? verdict.message : `the server refused bytes from ${range.start} (416); its file is ${size ?? 'of unknown size'} bytes`);
    this.#d.router.reportSuccess(this.#pjob, attempt);
    map.finishAt(range.start);
    this.job.total = range.start;
    this.#d.table.update(this.job.id, { total: range.start });
    const last = map.parts.at(-1);
    if (last && !last.held && !last.queued) await this.#completed(lane, last, new LaneWriter(this.files.partial));
  }

  /** Hands a failure to the router and carries out its decision. */
  async #failed(lane: Lane, source: SourceRecord, attempt: ProxyAttempt, err: unknown, status: number | undefined): Promise<void> {
    const evidence: FailureEvidence =
      err instanceof StatusFailure ? { status: err.status, headers: err.headers, bytes: lane.bytes } : { error: err as Error, slow: lane.slow, bytes: lane.bytes, ...(status !== undefined ? { status } : {}) };
    const decision = this.#d.router.reportFailure(this.#pjob, attempt, evidence);
    source.errors++;
    source.last_error = decision.reason;
    this.#d.log.info({ job: this.job.id, lane: lane.id, source: source.url, proxy: attempt.proxy ?? 'DIRECT', blame: decision.blame, action: decision.action, delay_ms: decision.delayMs, bytes: lane.bytes }, `download request failed: ${decision.reason}`);
    if (decision.action === 'fail') throw new JobFailure(decision.reason);
    if (decision.action === 'skip-source') {
      if (!this.#sources.skip(source, decision.reason)) throw new JobFailure(decision.reason);
      return;
    }
    if (decision.blame === 'proxy' && decision.delayMs === 0) this.#d.metrics.failover();
    else this.#d.metrics.retry();
    this.#sources.save();
    if (decision.delayMs > 0) await this.#d.sleep(decision.delayMs, this.#stop.signal).catch(() => undefined);
  }
}

/** The first `code` along an error's cause chain. */
function codeOf(err: unknown): string {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}

/** Errors of our own disk or database, which no retry through another proxy can fix. */
export function isLocalIoError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof ProxyctlError || (typeof code === 'string' && (/^SQLITE_/.test(code) || ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EISDIR', 'ENOTDIR', 'EFBIG', 'EBADF'].includes(code)));
}
