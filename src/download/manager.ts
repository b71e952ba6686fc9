import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, rename, stat, statfs, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Agent, ProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import type { DownloadsConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { StatsScope, Counter, Rate } from '../stats/registry.js';
import type { FailureEvidence, ProxyAttempt, ProxyFailureKind, ProxyJob, ProxyRouter } from '../upstream/api.js';
import { parseDownloadUrl, resolveDestination } from './destination.js';
import { FINAL_STATES, JOB_STATES, type JobRecord, type JobState, type JobView } from './job.js';
import { afterRangeNotSatisfiable, checkOffsetAgainstTotal, contentLength, decideResponse, resumeHeaders, type Validators } from './range-resume.js';
import { PartialFile } from './partial-file.js';
import { RateLimiter, sleep } from './rate-limiter.js';
import type { JobStore } from './store.js';

export interface AddRequest {
  url: string;
  dest?: string | undefined;
  sha256?: string | undefined;
  index?: number | undefined;
  max_rate?: number | undefined;
  force?: boolean | undefined;
}

export interface DownloadManagerOptions {
  store: JobStore;
  router: ProxyRouter;
  config: DownloadsConfig;
  /** downloads.dir resolved (absolute). */
  dir: string;
  /** Directory of the SQLite file (free space for parts is checked there). */
  dbDir: string;
  logger: Logger;
  stats: StatsScope;
  classify: (evidence: FailureEvidence) => ProxyFailureKind;
}

type StopReason = 'pause' | 'cancel' | 'close';

/** A job being downloaded right now. */
interface Running {
  readonly id: number;
  stop: StopReason | null;
  /** Aborts the request in flight (pause, cancel, close, too slow). */
  attempt: AbortController | null;
  attemptReason: 'slow' | null;
  /** Bytes held: committed parts + the part in memory. */
  bytes: number;
  total: number | null;
  proxy: string | null;
  limiter: RateLimiter;
  /** Last bytes/s samples (one per second) for speed and ETA. */
  samples: number[];
  lastBytes: number;
  /** Low-speed window: bytes at its start and when it started. */
  windowBytes: number;
  windowStart: number;
  lowSpeedLimit: number;
  lowSpeedWindowMs: number;
  done: Promise<void>;
}

class JobFailure extends Error {}

const SPEED_SAMPLES = 5;
/**
 * Part buffers per running job (one filled, the others being written to .partial):
 * at least 3, and as many as fit in 16 MiB so that small parts rarely wait for the disk.
 */
const partBuffers = (partSize: number): number => Math.max(3, Math.floor((16 * 1024 * 1024) / partSize));
const USER_AGENT = 'proxyctl-download/1';

/**
 * The download queue: runs jobs in queue order (serial by default), each
 * request through the proxy router, bytes into SQLite parts, and on
 * completion writes `<dest>.partial`, verifies, renames. See DESIGN.md
 * "Downloads" for the rules; src/download/range-resume.ts for the resume logic.
 */
export class DownloadManager {
  readonly #store: JobStore;
  readonly #router: ProxyRouter;
  readonly #log: Logger;
  readonly #classify: (e: FailureEvidence) => ProxyFailureKind;
  readonly #dir: string;
  readonly #dbDir: string;
  #config: DownloadsConfig;
  readonly #running = new Map<number, Running>();
  /** Per-job counters shown by `info` (not persisted). */
  readonly #resumes = new Map<number, number>();
  readonly #restarts = new Map<number, number>();
  readonly #dispatchers = new Map<string, Dispatcher>();
  /** `<dest>.partial` of jobs started in this process, kept across pause/resume (see PartialFile). */
  readonly #partials = new Map<number, PartialFile>();
  /** Verdicts the DB could not take (it was full), by job id. */
  readonly #unrecorded = new Map<number, Pick<JobRecord, 'state' | 'error' | 'finished_at'>>();
  readonly #global: RateLimiter;
  #ticker: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #m: { bytes: Counter; speed: Rate; resumes: Counter; restarts: Counter; failovers: Counter; retries: Counter; completed: Counter; failed: Counter };

  constructor(opts: DownloadManagerOptions) {
    this.#store = opts.store;
    this.#router = opts.router;
    this.#log = opts.logger;
    this.#classify = opts.classify;
    this.#config = opts.config;
    this.#dir = opts.dir;
    this.#dbDir = opts.dbDir;
    this.#global = new RateLimiter(opts.config.max_rate);
    const s = opts.stats;
    this.#m = {
      bytes: s.counter('bytes', 'bytes downloaded'),
      speed: s.rate('speed', 'bytes downloaded per second'),
      resumes: s.counter('resumes', 'requests that resumed with a Range at a non-zero offset'),
      restarts: s.counter('restarts_from_zero', 'resumes refused by the server (200 or changed file): parts dropped, restarted from 0'),
      failovers: s.counter('proxy_failovers', 'proxy failures after which the job continued through the next proxy'),
      retries: s.counter('retries', 'retries after origin 5xx, timeouts or slow transfers'),
      completed: s.counter('completed', 'jobs done'),
      failed: s.counter('failed', 'jobs failed'),
    };
    const jobs = s.scope('jobs');
    for (const state of JOB_STATES) jobs.gauge(state, `jobs ${state}`, () => this.#store.countInState(state));
  }

  /** Re-queues jobs that were running when the agent stopped (or crashed); paused stay paused. */
  start(): void {
    const swept = this.#store.sweepParts();
    if (swept > 0) this.#log.info({ parts: swept }, 'dropped parts of finished jobs left by a crash');
    for (const job of this.#all()) {
      if (job.state === 'active' || job.state === 'verifying') {
        this.#setState(job.id, 'queued');
        this.#log.info({ job: job.id, bytes: job.bytes }, 'download interrupted by a restart, re-queued');
      }
    }
    this.#ticker = setInterval(() => this.#tick(), 1000);
    this.#ticker.unref();
    this.#pump();
  }

  reload(config: DownloadsConfig): void {
    const old = this.#config;
    this.#config = config;
    if (old.max_rate !== config.max_rate) this.#global.setRate(config.max_rate);
    // New connections get the new connect timeout; requests in flight finish on the old ones.
    if (old.timeout !== config.timeout) void this.#closeDispatchers(false);
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#ticker) clearInterval(this.#ticker);
    const runs = [...this.#running.values()];
    for (const r of runs) this.#stopRun(r, 'close');
    await Promise.all(runs.map((r) => r.done));
    // Paused jobs keep their .partial open (reused on resume); the next start rebuilds it anyway.
    const open = [...this.#partials.values()];
    this.#partials.clear();
    await Promise.all(open.map((pf) => pf.close()));
    await this.#closeDispatchers();
  }

  // ---- control API -------------------------------------------------------

  add(req: AddRequest): { id: number; existing: boolean } {
    if (this.#closing) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', 'the agent is shutting down');
    const url = parseDownloadUrl(req.url);
    if (req.index !== undefined) {
      const holder = this.#store.byIndex(req.index);
      if (holder) {
        if (holder.url === url.href) return { id: holder.id, existing: true };
        throw new ProxyctlError('PXC_ERR_DUPLICATE_INDEX', `index ${req.index} is already job ${holder.id} (${holder.url})`);
      }
    }
    const force = req.force ?? false;
    const dest = resolveDestination(url, req.dest, { dir: this.#dir, allowAbsolute: this.#config.allow_absolute }, force);
    const clash = this.#all().find((j) => j.dest === dest && !FINAL_STATES.has(j.state));
    if (clash) throw new ProxyctlError('PXC_ERR_BAD_DEST', `job ${clash.id} already downloads to ${dest}`);
    const job = this.#store.add({ index: req.index ?? null, url: url.href, dest, sha256: req.sha256?.toLowerCase() ?? null, max_rate: req.max_rate ?? 0, force });
    this.#log.info({ job: job.id, url: job.url, dest }, 'download queued');
    this.#pump();
    return { id: job.id, existing: false };
  }

  list(): JobView[] {
    return this.#all().map((j) => this.#view(j));
  }

  info(id: number): JobView {
    return this.#view(this.#job(id));
  }

  /** Pauses one job, or every queued and active job. Returns the ids paused. */
  pause(target: number | 'all'): number[] {
    const jobs = target === 'all' ? this.#all().filter((j) => j.state === 'queued' || j.state === 'active') : [this.#job(target)];
    const paused: number[] = [];
    for (const job of jobs) {
      if (job.state === 'paused') continue;
      if (job.state !== 'queued' && job.state !== 'active') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${job.id} is ${job.state}; only queued or active jobs can be paused`);
      this.#setState(job.id, 'paused');
      const run = this.#running.get(job.id);
      if (run) this.#stopRun(run, 'pause');
      paused.push(job.id);
    }
    return paused;
  }

  resume(target: number | 'all'): number[] {
    const jobs = target === 'all' ? this.#all().filter((j) => j.state === 'paused') : [this.#job(target)];
    const resumed: number[] = [];
    for (const job of jobs) {
      if (job.state === 'queued' || job.state === 'active') continue;
      if (job.state !== 'paused') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${job.id} is ${job.state}; only paused jobs can be resumed${job.state === 'failed' ? ' (use retry)' : ''}`);
      this.#setState(job.id, 'queued');
      resumed.push(job.id);
    }
    this.#pump();
    return resumed;
  }

  cancel(id: number): void {
    const job = this.#job(id);
    if (job.state === 'done' || job.state === 'cancelled') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${id} is ${job.state}; nothing to cancel`);
    if (job.state === 'verifying') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${id} is verifying; it cannot be cancelled now`);
    this.#setState(id, 'cancelled', null, Date.now());
    this.#store.discardParts(id);
    const run = this.#running.get(id);
    if (run) this.#stopRun(run, 'cancel');
    else void this.#discardPartial(job);
    this.#log.info({ job: id }, 'download cancelled');
  }

  retry(id: number): void {
    const job = this.#job(id);
    if (job.state !== 'failed') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${id} is ${job.state}; only failed jobs can be retried`);
    this.#store.update(id, { attempts: 0 });
    this.#setState(id, 'queued');
    this.#pump();
  }

  // ---- scheduling --------------------------------------------------------

  /** Persists a state; a verdict only held in memory (see #fail) is superseded. */
  #setState(id: number, state: JobState, error: string | null = null, finishedAt: number | null = null): void {
    this.#store.setState(id, state, error, finishedAt);
    this.#unrecorded.delete(id);
  }

  /** The stored record with a verdict not yet persisted laid over it. */
  #overlay(job: JobRecord): JobRecord {
    const o = this.#unrecorded.get(job.id);
    return o ? { ...job, ...o } : job;
  }

  #all(): JobRecord[] {
    return this.#store.all().map((j) => this.#overlay(j));
  }

  #job(id: number): JobRecord {
    const job = this.#store.get(id);
    if (!job) throw new ProxyctlError('PXC_ERR_UNKNOWN_JOB', `no download job ${id}`);
    return this.#overlay(job);
  }

  #pump(): void {
    if (this.#closing || this.#running.size >= this.#config.concurrency) return;
    for (const job of this.#all()) {
      if (this.#running.size >= this.#config.concurrency) break;
      if (job.state !== 'queued' || this.#running.has(job.id)) continue;
      this.#launch(job);
    }
  }

  #launch(job: JobRecord): void {
    const run: Running = {
      id: job.id,
      stop: null,
      attempt: null,
      attemptReason: null,
      bytes: job.bytes,
      total: job.total,
      proxy: job.proxy,
      limiter: new RateLimiter(job.max_rate),
      samples: [],
      lastBytes: job.bytes,
      windowBytes: job.bytes,
      windowStart: Date.now(),
      lowSpeedLimit: 0,
      lowSpeedWindowMs: 0,
      done: Promise.resolve(),
    };
    this.#running.set(job.id, run);
    this.#setState(job.id, 'active');
    run.done = this.#run(job, run)
      .catch((err: unknown) => this.#log.error({ err, job: job.id }, 'download loop crashed'))
      .finally(() => {
        this.#running.delete(job.id);
        setImmediate(() => this.#pump());
      });
  }

  #stopRun(run: Running, reason: StopReason): void {
    run.stop = reason;
    run.attempt?.abort(new Error(`download ${reason}`));
  }

  /** Once a second: speed samples, the low-speed check. */
  #tick(): void {
    const now = Date.now();
    for (const run of this.#running.values()) {
      run.samples.push(run.bytes - run.lastBytes);
      if (run.samples.length > SPEED_SAMPLES) run.samples.shift();
      run.lastBytes = run.bytes;
      if (run.lowSpeedLimit > 0 && run.attempt && now - run.windowStart >= run.lowSpeedWindowMs) {
        const bps = ((run.bytes - run.windowBytes) * 1000) / (now - run.windowStart);
        const capped = Math.min(run.limiter.rate || Infinity, this.#global.rate || Infinity);
        if (bps < run.lowSpeedLimit && capped >= run.lowSpeedLimit) {
          run.attemptReason = 'slow';
          run.attempt.abort(new Error(`transfer slower than ${run.lowSpeedLimit} B/s`));
        }
        run.windowBytes = run.bytes;
        run.windowStart = now;
      }
    }
  }

  #view(job: JobRecord): JobView {
    // A run still winding down after cancel/fail no longer speaks for the job.
    const run = FINAL_STATES.has(job.state) ? undefined : this.#running.get(job.id);
    const bytes = run ? run.bytes : job.bytes;
    const total = run?.total ?? job.total;
    const speed = run && run.samples.length > 0 ? run.samples.reduce((a, b) => a + b, 0) / run.samples.length : 0;
    return {
      id: job.id,
      index: job.index,
      url: job.url,
      dest: job.dest,
      sha256: job.sha256,
      state: job.state,
      bytes,
      total,
      speed_bps: Math.round(speed),
      eta_s: run && total !== null && speed > 0 ? Math.max(0, Math.round((total - bytes) / speed)) : null,
      proxy: run ? run.proxy : job.proxy,
      attempts: job.attempts,
      resumes: this.#resumes.get(job.id) ?? 0,
      restarts: this.#restarts.get(job.id) ?? 0,
      error: job.error,
      max_rate: job.max_rate,
      created_at: new Date(job.created_at).toISOString(),
      finished_at: job.finished_at === null ? null : new Date(job.finished_at).toISOString(),
    };
  }

  // ---- one job -----------------------------------------------------------

  async #run(job: JobRecord, run: Running): Promise<void> {
    try {
      const complete = await this.#fetch(job, run);
      if (complete && !run.stop) await this.#finish(job, run);
    } catch (err) {
      if (run.stop) return this.#afterStop(job, run);
      this.#log.debug({ err, job: job.id }, 'download error');
      const message = describeFailure(err, job);
      this.#fail(job.id, message);
      // The parts stay (retry continues from them); the file is rebuilt from them then.
      await this.#discardPartial(job);
      return;
    }
    if (run.stop) await this.#afterStop(job, run);
  }

  async #afterStop(job: JobRecord, run: Running): Promise<void> {
    // pause: state already `paused`, parts and .partial kept; cancel: parts dropped (again: a part
    // may have landed between the command and the abort); close: stays `active`, resumes at next start.
    if (run.stop === 'cancel') {
      this.#store.discardParts(run.id);
      await this.#discardPartial(job);
    } else if (run.stop === 'close') {
      const pf = this.#partials.get(job.id);
      this.#partials.delete(job.id);
      await pf?.close();
    }
  }

  /** Closes and deletes the job's `<dest>.partial`, whether this process wrote it or not. */
  async #discardPartial(job: JobRecord): Promise<void> {
    const pf = this.#partials.get(job.id);
    this.#partials.delete(job.id);
    if (pf) await pf.discard();
    else await unlink(`${job.dest}.partial`).catch(() => undefined);
  }

  /**
   * The job's `<dest>.partial` holding exactly its `committed` bytes: the one this
   * process has been appending to when it matches, else rebuilt from the parts.
   */
  async #partialFor(job: JobRecord, committed: number): Promise<PartialFile> {
    let pf = this.#partials.get(job.id);
    if (pf && !pf.broken && pf.bytes === committed) return pf;
    this.#partials.delete(job.id);
    await pf?.close();
    const path = `${job.dest}.partial`;
    if (committed > 0) this.#log.info({ job: job.id, bytes: committed }, 'rebuilding .partial from the committed parts');
    pf = committed > 0 ? await PartialFile.rebuild(path, this.#store, job.id) : await PartialFile.create(path);
    this.#partials.set(job.id, pf);
    return pf;
  }

  #fail(id: number, message: string): void {
    const now = Date.now();
    try {
      this.#setState(id, 'failed', message, now);
    } catch (err) {
      // The DB itself may be what failed (SQLITE_FULL): keep the verdict in memory so the
      // job shows as failed and can be retried once there is room again.
      this.#unrecorded.set(id, { state: 'failed', error: message, finished_at: now });
      this.#log.error({ err, job: id }, 'could not record the failure in the state DB; kept in memory');
    }
    this.#m.failed.inc();
    this.#log.warn({ job: id, error: message }, 'download failed');
  }

  /**
   * Downloads into parts until the file is complete (true) or the job is stopped
   * (false). Throws JobFailure (or a fs/SQLite error) when the job fails.
   */
  async #fetch(job: JobRecord, run: Running): Promise<boolean> {
    const partSize = this.#config.part_size;
    const parts = this.#store.partsInfo(job.id);
    let committed = parts.bytes;
    let partNo = parts.count;
    // Part buffers: one is filled while those committed are still being written to .partial.
    // The read loop never waits for the disk unless partBuffers() parts are in flight: an await
    // on I/O there would let a connection error discard bytes the socket already delivered.
    let buf: Buffer = Buffer.allocUnsafe(partSize);
    let buffers = 1;
    const maxBuffers = partBuffers(partSize);
    const spare: Buffer[] = [];
    let fill = 0;
    /** `.partial`, opened before the first body is read (rebuilt from the parts held, if any). */
    let pf: PartialFile | null = committed > 0 ? await this.#partialFor(job, committed) : null;
    /** The last write to .partial (they are chained: it settles after every earlier one). */
    let writing: Promise<void> = Promise.resolve();
    let validators: Validators = { etag: job.etag, lastModified: job.last_modified };
    let total = job.total;
    let retries = 0;
    let attempts = job.attempts;
    let spaceChecked = false;
    const pjob: ProxyJob = { key: job.sha256 ?? job.url, url: job.url, plan: null };
    const dropAll = async (): Promise<void> => {
      this.#store.discardParts(job.id);
      committed = 0;
      partNo = 0;
      fill = 0;
      run.bytes = 0;
      run.lastBytes = 0;
      run.windowBytes = 0;
      await writing.catch(() => undefined);
      writing = Promise.resolve();
      await pf?.reset();
    };
    /**
     * Commits buf[0, fill) as the next part (its own transaction), then appends it to
     * .partial; returns once the other buffer is free to fill.
     */
    const commit = async (): Promise<void> => {
      pf ??= await this.#partialFor(job, committed);
      if (pf.broken) await pf.drain(); // throws the write error (ENOSPC …)
      const full = buf;
      const data = fill === full.length ? full : full.subarray(0, fill);
      committed += fill;
      this.#store.commitPart(job.id, partNo++, data, committed);
      fill = 0;
      const w = pf.append(data);
      writing = w;
      w.then(() => spare.push(full), () => undefined);
      const next = spare.pop();
      if (next) buf = next;
      else if (buffers < maxBuffers) {
        buf = Buffer.allocUnsafe(partSize);
        buffers++;
      } else {
        await w; // the disk is behind: every buffer is free once the last write is done
        buf = spare.pop()!;
      }
    };

    for (;;) {
      if (run.stop) return false;
      const offset = committed + fill;
      const attempt = this.#router.attempt(pjob);
      run.proxy = attempt.proxy;
      run.lowSpeedLimit = attempt.lowSpeedLimit;
      run.lowSpeedWindowMs = Math.max(1000, attempt.timeoutMs);
      attempts++;
      this.#store.update(job.id, { proxy: attempt.proxy, attempts });
      if (offset > 0) {
        this.#m.resumes.inc();
        this.#resumes.set(job.id, (this.#resumes.get(job.id) ?? 0) + 1);
      }
      const ctrl = new AbortController();
      run.attempt = ctrl;
      run.attemptReason = null;
      run.windowBytes = run.bytes;
      run.windowStart = Date.now();
      const viaProxy = attempt.proxy !== null;
      let status: number | undefined;
      let headers: Record<string, string | string[] | undefined> | undefined;
      try {
        const res = await request(job.url, {
          method: 'GET',
          headers: { 'user-agent': USER_AGENT, ...resumeHeaders(offset, validators) },
          dispatcher: this.#dispatcher(attempt.proxy),
          signal: ctrl.signal,
          headersTimeout: attempt.timeoutMs,
          bodyTimeout: this.#config.idle_timeout * 1000,
        });
        status = res.statusCode;
        headers = res.headers;
        const d = decideResponse(offset, validators, res.statusCode, res.headers);
        if (d.kind === 'status' || d.kind === 'check-size' || d.kind === 'retry-from-zero') {
          await res.body.dump().catch(() => undefined);
          if (d.kind === 'retry-from-zero') {
            this.#restartFromZero(job.id, d.reason);
            await dropAll();
            validators = { etag: null, lastModified: null };
            continue;
          }
          if (d.kind === 'check-size') {
            // The 416 answered the request: the proxy works. Commit what is held, then ask the size.
            if (fill > 0) await commit();
            const size = await this.#remoteSize(job.url, attempt, ctrl.signal);
            const verdict = afterRangeNotSatisfiable(offset, size);
            if (verdict.kind === 'fail') throw new JobFailure(verdict.message);
            this.#router.reportSuccess(pjob, attempt);
            run.total = total = size;
            this.#store.update(job.id, { total });
            return true;
          }
          throw new StatusError(d.status);
        }
        if (d.kind === 'restart') {
          this.#restartFromZero(job.id, d.reason);
          await dropAll();
        }
        if (d.kind === 'restart' || d.kind === 'fresh') {
          validators = d.validators;
          total = d.total;
          this.#store.update(job.id, { total, etag: validators.etag, last_modified: validators.lastModified });
        } else if (d.total !== null) {
          total = d.total;
        }
        run.total = total;
        const tooLarge = checkOffsetAgainstTotal(committed + fill, total);
        if (tooLarge) throw new JobFailure(tooLarge);
        if (!spaceChecked && total !== null) {
          await this.#checkSpace(job.dest, total - committed, total);
          spaceChecked = true;
        }
        pf ??= await this.#partialFor(job, committed);
        // The body, into the in-memory part; a full part is committed in its own transaction.
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (run.stop) return false;
          await run.limiter.take(chunk.length, ctrl.signal);
          await this.#global.take(chunk.length, ctrl.signal);
          let pos = 0;
          while (pos < chunk.length) {
            const n = Math.min(partSize - fill, chunk.length - pos);
            chunk.copy(buf, fill, pos, pos + n);
            fill += n;
            pos += n;
            if (fill === partSize) {
              if (run.stop) return false;
              await commit();
            }
          }
          run.bytes = committed + fill;
          this.#m.bytes.inc(chunk.length);
          this.#m.speed.mark(chunk.length);
        }
        if (run.stop) return false;
        if (total !== null && committed + fill !== total) throw new Error(`the response ended at byte ${committed + fill} of ${total}`);
        if (fill > 0) await commit();
        this.#router.reportSuccess(pjob, attempt);
        if (total === null) {
          run.total = total = committed;
          this.#store.update(job.id, { total });
        }
        return true;
      } catch (err) {
        if (run.stop) return false;
        if (err instanceof JobFailure || isLocalIoError(err)) throw err;
        const slow = run.attemptReason === 'slow';
        const evidence: FailureEvidence = err instanceof StatusError ? { status: err.status, headers: headers ?? {}, viaProxy } : { error: err as Error, viaProxy, slow, ...(status !== undefined ? { status } : {}) };
        const kind = this.#classify(evidence);
        const error = err instanceof Error ? err : new Error(String(err));
        const decision = this.#router.reportFailure(pjob, attempt, kind, error);
        const what = err instanceof StatusError ? `HTTP ${err.status}` : error.message;
        this.#log.info({ job: job.id, proxy: attempt.proxy ?? 'DIRECT', kind, offset: committed + fill, decision: decision.action, err: what }, 'download request failed');
        if (kind === 'proxy' && decision.action === 'retry') {
          this.#m.failovers.inc();
          if (decision.delayMs > 0) await this.#wait(decision.delayMs, run);
          continue;
        }
        if (kind === 'proxy') {
          // Every proxy failed once: as with an origin failure, back off and try the list again,
          // up to downloads.max_retries (a drop inside a single proxy's tunnel is often the origin's).
          retries++;
          if (retries > this.#config.max_retries) throw new JobFailure(`no proxy left after ${this.#config.max_retries} retries: ${decision.reason} (last: ${what} via ${attempt.proxy ?? 'DIRECT'})`);
          this.#m.retries.inc();
          await this.#wait(Math.max(decision.delayMs, backoffMs(retries)), run);
          continue;
        }
        if (kind === 'slow' && decision.action === 'fail') throw new JobFailure(`too slow: ${decision.reason}`);
        if (err instanceof StatusError && err.status >= 400 && err.status < 500) throw new JobFailure(`HTTP ${err.status} from ${new URL(job.url).host}`);
        if (err instanceof StatusError && err.status < 500) throw new JobFailure(`unexpected HTTP ${err.status} from ${new URL(job.url).host}`);
        retries++;
        if (retries > this.#config.max_retries) throw new JobFailure(`gave up after ${this.#config.max_retries} retries: ${what}`);
        this.#m.retries.inc();
        await this.#wait(Math.max(decision.delayMs, backoffMs(retries)), run);
      } finally {
        run.attempt = null;
      }
    }
  }

  /** Sleeps unless the job is stopped meanwhile. */
  async #wait(ms: number, run: Running): Promise<void> {
    const ctrl = new AbortController();
    run.attempt = ctrl;
    await sleep(ms, ctrl.signal).catch(() => undefined);
  }

  #restartFromZero(id: number, reason: string): void {
    this.#m.restarts.inc();
    this.#restarts.set(id, (this.#restarts.get(id) ?? 0) + 1);
    this.#log.warn({ job: id, reason }, 'resume refused, restarting from byte 0');
  }

  /** The size the server reports for a request without a range (HEAD). */
  async #remoteSize(url: string, attempt: ProxyAttempt, signal: AbortSignal): Promise<number | null> {
    const res = await request(url, { method: 'HEAD', headers: { 'user-agent': USER_AGENT }, dispatcher: this.#dispatcher(attempt.proxy), signal, headersTimeout: attempt.timeoutMs });
    await res.body.dump().catch(() => undefined);
    if (res.statusCode !== 200) return null;
    return contentLength(res.headers);
  }

  /** Fails with PXC_ERR_NO_SPACE unless the parts and the file fit. */
  async #checkSpace(dest: string, partsBytes: number, fileBytes: number): Promise<void> {
    const destDir = dirname(dest);
    mkdirSync(destDir, { recursive: true });
    const [dbFs, destFs, dbSt, destSt] = await Promise.all([statfs(this.#dbDir), statfs(destDir), stat(this.#dbDir), stat(destDir)]);
    const dbFree = dbFs.bavail * dbFs.bsize;
    const destFree = destFs.bavail * destFs.bsize;
    const short = (need: number, free: number, where: string): never => {
      throw new ProxyctlError('PXC_ERR_NO_SPACE', `insufficient disk space: ${need} bytes needed in ${where}, ${free} free`);
    };
    if (dbSt.dev === destSt.dev) {
      if (partsBytes + fileBytes > destFree) short(partsBytes + fileBytes, destFree, destDir);
    } else {
      if (partsBytes > dbFree) short(partsBytes, dbFree, this.#dbDir);
      if (fileBytes > destFree) short(fileBytes, destFree, destDir);
    }
  }

  /**
   * `<dest>.partial` (written as the parts committed) fsynced, size and sha256 checked,
   * renamed, parts dropped: in that order.
   */
  async #finish(job: JobRecord, run: Running): Promise<void> {
    this.#setState(job.id, 'verifying');
    this.#log.info({ job: job.id, bytes: run.bytes }, 'download complete, verifying');
    const partial = `${job.dest}.partial`;
    let size: number;
    let digest: string;
    try {
      const pf = await this.#partialFor(job, run.bytes);
      this.#partials.delete(job.id);
      ({ size, sha256: digest } = await pf.seal());
    } catch (err) {
      await this.#discardPartial(job);
      throw err;
    }
    const total = run.total;
    const reject = async (message: string): Promise<never> => {
      await unlink(partial).catch(() => undefined);
      this.#store.discardParts(job.id);
      throw new JobFailure(message);
    };
    if (total !== null && size !== total) await reject(`size mismatch: assembled ${size} bytes, expected ${total}`);
    if (job.sha256 !== null && digest !== job.sha256) await reject(`checksum mismatch: expected sha256 ${job.sha256}, got ${digest}`);
    const current = this.#store.get(job.id);
    if (!current || current.state !== 'verifying') {
      await unlink(partial).catch(() => undefined);
      return;
    }
    if (!job.force && (await stat(job.dest).then(() => true, () => false))) {
      await unlink(partial).catch(() => undefined);
      // A crash between the rename and `done` leaves our own file there: the same bytes are not a clash.
      if (!(await hasContent(job.dest, size, digest))) throw new JobFailure(`destination ${job.dest} appeared meanwhile; not overwritten (use force)`);
    } else {
      await rename(partial, job.dest);
    }
    await syncDir(dirname(job.dest));
    // Done as soon as dest is in place; dropping the parts (a large DELETE) comes after,
    // and a crash in between leaves parts that start() sweeps.
    this.#store.update(job.id, { bytes: size, total: size });
    this.#setState(job.id, 'done', null, Date.now());
    run.bytes = size;
    this.#store.dropParts(job.id);
    this.#m.completed.inc();
    this.#log.info({ job: job.id, dest: job.dest, bytes: size, sha256: digest }, 'download done');
  }

  #dispatcher(proxy: string | null): Dispatcher {
    const key = proxy ?? 'DIRECT';
    let d = this.#dispatchers.get(key);
    if (!d) {
      const timeout = this.#config.timeout * 1000;
      // proxyTunnel false: absolute-form requests for http:, CONNECT only for https:.
      const base = proxy ? new ProxyAgent({ uri: proxy, proxyTunnel: false, proxyTls: { timeout }, connect: { timeout } }) : new Agent({ connect: { timeout } });
      d = base.compose(interceptors.redirect({ maxRedirections: 5 }));
      this.#dispatchers.set(key, d);
    }
    return d;
  }

  async #closeDispatchers(force = true): Promise<void> {
    const all = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(all.map((d) => (force ? d.destroy() : d.close()).catch(() => undefined)));
  }
}

class StatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** Exponential backoff for retries: 250 ms, 500 ms, 1 s … capped at 30 s. */
export function backoffMs(retry: number): number {
  return Math.min(30_000, 250 * 2 ** (retry - 1));
}

/** Errors of our own disk or database, which no retry through another proxy can fix. */
function isLocalIoError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof ProxyctlError || (typeof code === 'string' && (/^SQLITE_/.test(code) || ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EISDIR', 'ENOTDIR', 'EFBIG'].includes(code)));
}

function describeFailure(err: unknown, job: JobRecord): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `no space left on device writing ${job.dest}.partial`;
  if (code === 'SQLITE_FULL') return 'no space left on device for the download state DB';
  return err instanceof Error ? err.message : String(err);
}

/** Whether the file has exactly this size and sha256. */
async function hasContent(path: string, size: number, sha256: string): Promise<boolean> {
  const st = await stat(path).catch(() => null);
  if (!st || !st.isFile() || st.size !== size) return false;
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return hash.digest('hex') === sha256;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
