import { lstat, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DownloadsConfig } from '../config/schema.js';
import { NO_EVENTS, type EventPublisher } from '../control/events.js';
import { ProxyctlError } from '../errors.js';
import type { Counter, Rate, StatsScope } from '../stats/registry.js';
import type { ProxyRouter } from '../upstream/api.js';
import { parseDownloadUrl, prepareParent, resolveDestination, type DestinationRules } from './destination.js';
import { finishJob } from './finish.js';
import type { HashWorker } from './hash-worker.js';
import { FINAL_STATES, JOB_STATES, type JobRecord, type JobState, type JobView, type StoreKind } from './job.js';
import type { JobFiles } from './job-files.js';
import type { JobTable, NewJob } from './job-table.js';
import type { PartStore } from './part-store.js';
import { RateLimiter, sleep as realSleep } from './rate-limiter.js';
import { isLocalIoError, JobFailure, Transfer, type StopReason } from './transfer.js';

/** One job to add, as the control command validated it. */
export interface AddRequest {
  urls: readonly string[];
  dest?: string | undefined;
  sha256?: string | undefined;
  index?: number | undefined;
  max_rate?: number | undefined;
  connections?: number | undefined;
  headers?: ReadonlyArray<readonly [string, string]> | undefined;
  /** Absolute path of a PEM file (checked by the command). */
  ca_file?: string | undefined;
  force?: boolean | undefined;
}

/** Paths and policies of the running config, resolved. */
export interface QueueSettings {
  config: DownloadsConfig;
  /** downloads.dir, absolute. */
  dir: string;
  /** Directory of the database (free space for a store that holds bytes there). */
  dbDir: string;
  /** downloads.ca_file, absolute, or null. */
  caFile: string | null;
}

export interface DownloadManagerOptions {
  table: JobTable;
  stores: Readonly<Record<StoreKind, PartStore>>;
  /** Part hashes (the finish re-checks a destination left by a crash with it). */
  partHasher: HashWorker;
  /** Whole-file hashes. */
  fileHasher: HashWorker;
  router: ProxyRouter;
  settings: QueueSettings;
  logger: Logger;
  stats: StatsScope;
  /** Waits between retries; tests pass a faster one. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A moment to give database space back: the queue went idle, or jobs were purged. */
  compact?: (reason: 'idle' | 'purge') => void;
  /** download.state on every change of a job's state, download.progress once a second while it runs. */
  events?: EventPublisher;
}

/** A job being worked on right now. */
interface Running {
  readonly id: number;
  stop: StopReason | null;
  transfer: Transfer | null;
  files: JobFiles | null;
  /** Bytes per second over the last ticks, for speed and ETA. */
  samples: number[];
  lastBytes: number;
  done: Promise<void>;
}

const SPEED_SAMPLES = 5;

/**
 * The download queue and its control: jobs run in queue order, up to
 * downloads.max_active at once; pause, resume, cancel, retry and purge act on
 * them. The transfer of one job is transfer.ts, where its bytes live is the
 * store (part-store.ts), its end is finish.ts.
 */
export class DownloadManager {
  readonly #table: JobTable;
  readonly #stores: Readonly<Record<StoreKind, PartStore>>;
  readonly #partHasher: HashWorker;
  readonly #fileHasher: HashWorker;
  readonly #router: ProxyRouter;
  readonly #log: Logger;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #compact: ((reason: 'idle' | 'purge') => void) | undefined;
  readonly #events: EventPublisher;
  #s: QueueSettings;
  readonly #running = new Map<number, Running>();
  /** The files of paused jobs, kept open for their resume (reopened and checked after a restart). */
  readonly #paused = new Map<number, JobFiles>();
  /** Verdicts the DB could not take (it was full), by job id. */
  readonly #unrecorded = new Map<number, Pick<JobRecord, 'state' | 'error' | 'finished_at'>>();
  readonly #global: RateLimiter;
  #ticker: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #m: { bytes: Counter; speed: Rate; resumes: Counter; restarts: Counter; failovers: Counter; retries: Counter; completed: Counter; failed: Counter; badParts: Counter };

  constructor(opts: DownloadManagerOptions) {
    this.#table = opts.table;
    this.#stores = opts.stores;
    this.#partHasher = opts.partHasher;
    this.#fileHasher = opts.fileHasher;
    this.#router = opts.router;
    this.#log = opts.logger;
    this.#sleep = opts.sleep ?? realSleep;
    this.#compact = opts.compact;
    this.#events = opts.events ?? NO_EVENTS;
    this.#s = opts.settings;
    this.#global = new RateLimiter(opts.settings.config.max_rate);
    const s = opts.stats;
    this.#m = {
      bytes: s.counter('bytes', 'bytes downloaded'),
      speed: s.rate('speed', 'bytes downloaded per second'),
      resumes: s.counter('resumes', 'requests that continued from bytes already held'),
      restarts: s.counter('restarts_from_zero', 'resumes refused by the server (200 or changed file): parts dropped, restarted from 0'),
      failovers: s.counter('proxy_failovers', 'proxy failures after which the job continued through the next proxy'),
      retries: s.counter('retries', 'retries after a backoff (origin failures, slow transfers, rounds of the proxy list)'),
      completed: s.counter('completed', 'jobs done'),
      failed: s.counter('failed', 'jobs failed'),
      badParts: s.counter('parts_refetched', 'journaled parts that failed their check at a start (torn or altered) and were fetched again'),
    };
    const jobs = s.scope('jobs');
    for (const state of JOB_STATES) jobs.gauge(state, `jobs ${state}`, () => this.#table.countInState(state));
  }

  /** The part-store callback for a journaled part that failed its check. */
  get onBadPart(): () => void {
    return () => this.#m.badParts.inc();
  }

  /** Re-queues jobs that were running when the agent stopped (or crashed); paused stay paused. */
  start(): void {
    let swept = 0;
    for (const store of Object.values(this.#stores)) swept += store.sweep();
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

  reload(settings: QueueSettings): void {
    const old = this.#s.config;
    this.#s = settings;
    if (old.max_rate !== settings.config.max_rate) this.#global.setRate(settings.config.max_rate);
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#ticker) clearInterval(this.#ticker);
    const runs = [...this.#running.values()];
    for (const r of runs) this.#stopRun(r, 'close');
    await Promise.all(runs.map((r) => r.done));
    const paused = [...this.#paused.values()];
    this.#paused.clear();
    await Promise.all(paused.map((f) => f.close()));
  }

  // ---- control API -------------------------------------------------------

  /** Adds jobs: every one is checked first, then all are queued in one transaction (or none). */
  add(reqs: readonly AddRequest[]): Array<{ id: number; existing: boolean }> {
    if (this.#closing) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', 'the agent is shutting down');
    const rules = this.#rules();
    const live = new Map(this.#all().filter((j) => !FINAL_STATES.has(j.state)).map((j) => [j.dest, j.id]));
    const out: Array<{ id: number; existing: boolean } | null> = [];
    const fresh: NewJob[] = [];
    for (const [i, req] of reqs.entries()) {
      try {
        this.#check(req, rules, live, out, fresh);
      } catch (err) {
        // Which job of a batch was refused (nothing of the batch is queued).
        if (reqs.length > 1 && err instanceof ProxyctlError) throw new ProxyctlError(err.code, `jobs[${i}]: ${err.message}`, { cause: err });
        throw err;
      }
    }
    const added = this.#table.add(fresh);
    let k = 0;
    const result = out.map((r) => r ?? { id: added[k++]!.id, existing: false });
    for (const job of added) {
      this.#log.info({ job: job.id, url: job.url, mirrors: job.sources.length - 1, dest: job.dest, store: job.store }, 'download queued');
      this.#announce(job, 'queued', null);
    }
    this.#pump();
    return result;
  }

  /** Checks one request: appends its outcome (an existing job) or the job to insert. */
  #check(req: AddRequest, rules: DestinationRules, live: Map<string, number>, out: Array<{ id: number; existing: boolean } | null>, fresh: NewJob[]): void {
    {
      const urls = [...new Set(req.urls.map((u) => parseDownloadUrl(u).href))];
      if (req.index !== undefined) {
        const holder = this.#table.byIndex(req.index);
        if (holder) {
          if (holder.url === urls[0]) {
            out.push({ id: holder.id, existing: true });
            return;
          }
          throw new ProxyctlError('PXC_ERR_DUPLICATE_INDEX', `index ${req.index} is already job ${holder.id} (${holder.url})`);
        }
      }
      const force = req.force ?? false;
      const dest = resolveDestination(new URL(urls[0]!), req.dest, rules, force);
      const clash = live.get(dest);
      if (clash !== undefined) throw new ProxyctlError('PXC_ERR_BAD_DEST', clash < 0 ? `two jobs of this request download to ${dest}` : `job ${clash} already downloads to ${dest}`);
      live.set(dest, -1);
      out.push(null);
      fresh.push({
        index: req.index ?? null,
        sources: urls,
        dest,
        sha256: req.sha256?.toLowerCase() ?? null,
        max_rate: req.max_rate ?? 0,
        force,
        store: this.#s.config.store,
        connections: req.connections ?? null,
        headers: req.headers ?? [],
        ca_file: req.ca_file ?? null,
      });
    }
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
    this.#store(job).discard(id);
    const run = this.#running.get(id);
    if (run) this.#stopRun(run, 'cancel');
    else void this.#discardFiles(job);
    this.#log.info({ job: id }, 'download cancelled');
  }

  retry(id: number): void {
    const job = this.#job(id);
    if (job.state !== 'failed') throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${id} is ${job.state}; only failed jobs can be retried`);
    // Mirrors dropped for the last run get their chance again.
    const sources = job.sources.map((s) => ({ ...s, state: 'usable' as const }));
    this.#table.update(id, { sources });
    this.#setState(id, 'queued');
    this.#pump();
  }

  /**
   * Removes ended jobs (done, failed, cancelled) and everything they hold: their
   * rows, parts and partial files. `finished` = every ended job.
   */
  async purge(target: readonly number[] | 'finished'): Promise<number[]> {
    const jobs = target === 'finished' ? this.#all().filter((j) => FINAL_STATES.has(j.state)) : target.map((id) => this.#job(id));
    for (const job of jobs) {
      if (!FINAL_STATES.has(job.state)) throw new ProxyctlError('PXC_ERR_JOB_STATE', `job ${job.id} is ${job.state}; only done, failed or cancelled jobs can be purged (cancel it first)`);
    }
    // A cancelled job may still be winding down (its requests aborting): purge after it.
    await Promise.all(jobs.map((j) => this.#running.get(j.id)?.done));
    for (const job of jobs) {
      this.#store(job).discard(job.id);
      this.#table.remove(job.id);
      this.#unrecorded.delete(job.id);
      await removeOwnPartial(`${job.dest}.partial`);
    }
    if (jobs.length > 0) {
      this.#log.info({ jobs: jobs.map((j) => j.id) }, 'download jobs purged');
      this.#compact?.('purge');
    }
    return jobs.map((j) => j.id);
  }

  // ---- scheduling --------------------------------------------------------

  #rules(): DestinationRules {
    return { dir: this.#s.dir, allowAbsolute: this.#s.config.allow_absolute };
  }

  #store(job: JobRecord): PartStore {
    return this.#stores[job.store];
  }

  /** Persists a state; a verdict only held in memory (see #fail) is superseded. Published as download.state. */
  #setState(id: number, state: JobState, error: string | null = null, finishedAt: number | null = null): void {
    const before = this.#table.get(id);
    this.#table.setState(id, state, error, finishedAt);
    const was = this.#unrecorded.get(id)?.state ?? before?.state ?? null;
    this.#unrecorded.delete(id);
    if (before) this.#announce(before, state, error, was);
  }

  /**
   * download.state, always called: it also delivers the job's pending throttled
   * progress first (the bus does that), so a watcher sees the last bytes before the end.
   */
  #announce(job: Pick<JobRecord, 'id' | 'url' | 'dest'>, state: JobState, error: string | null, previous: JobState | null = null): void {
    if (state === previous) return;
    this.#events.publish('download.state', { id: job.id, state, previous, url: job.url, dest: job.dest, error });
  }

  /** The stored record with a verdict not yet persisted laid over it. */
  #overlay(job: JobRecord): JobRecord {
    const o = this.#unrecorded.get(job.id);
    return o ? { ...job, ...o } : job;
  }

  #all(): JobRecord[] {
    return this.#table.all().map((j) => this.#overlay(j));
  }

  #job(id: number): JobRecord {
    const job = this.#table.get(id);
    if (!job) throw new ProxyctlError('PXC_ERR_UNKNOWN_JOB', `no download job ${id}`);
    return this.#overlay(job);
  }

  #pump(): void {
    const max = this.#s.config.max_active;
    if (this.#closing || this.#running.size >= max) return;
    for (const job of this.#all()) {
      if (this.#running.size >= max) break;
      if (job.state !== 'queued' || this.#running.has(job.id)) continue;
      this.#launch(job);
    }
  }

  #launch(job: JobRecord): void {
    const run: Running = { id: job.id, stop: null, transfer: null, files: null, samples: [], lastBytes: job.bytes, done: Promise.resolve() };
    this.#running.set(job.id, run);
    if (job.started_at === null) this.#table.update(job.id, { started_at: Date.now() });
    this.#setState(job.id, 'active');
    run.done = this.#run(job, run)
      .catch((err: unknown) => this.#log.error({ err, job: job.id }, 'download loop crashed'))
      .finally(() => {
        this.#running.delete(job.id);
        if (this.#running.size === 0 && !this.#closing) this.#compact?.('idle');
        setImmediate(() => this.#pump());
      });
  }

  #stopRun(run: Running, reason: StopReason): void {
    run.stop ??= reason;
    run.transfer?.stop(reason);
  }

  /** Once a second: speed samples, the low-speed check. */
  #tick(): void {
    const now = Date.now();
    for (const run of this.#running.values()) {
      const t = run.transfer;
      if (!t) continue;
      const bytes = t.bytes();
      run.samples.push(Math.max(0, bytes - run.lastBytes));
      if (run.samples.length > SPEED_SAMPLES) run.samples.shift();
      run.lastBytes = bytes;
      t.tick(now);
      if (this.#events.wants('download.progress')) {
        const rate = Math.round(run.samples.reduce((a, b) => a + b, 0) / run.samples.length);
        this.#events.publish('download.progress', { id: run.id, bytes, total: t.total(), rate });
      }
    }
  }

  #view(job: JobRecord): JobView {
    // A run still winding down after cancel/fail no longer speaks for the job.
    const run = FINAL_STATES.has(job.state) ? undefined : this.#running.get(job.id);
    const t = run?.transfer ?? null;
    // A paused job's files stay open here: what they hold is exact (whole parts and the part begun).
    const paused = job.state === 'paused' ? this.#paused.get(job.id) : undefined;
    const bytes = t ? t.bytes() : paused ? paused.map.receivedBytes() : job.bytes;
    const total = t?.total() ?? job.total;
    const speed = run && run.samples.length > 0 ? run.samples.reduce((a, b) => a + b, 0) / run.samples.length : 0;
    const record = t?.job ?? job;
    return {
      id: job.id,
      index: job.index,
      url: job.url,
      sources: record.sources.map((s) => ({ url: s.url, state: s.state, bytes: s.bytes, errors: s.errors, last_error: s.last_error })),
      dest: job.dest,
      sha256: job.sha256,
      state: job.state,
      bytes,
      total,
      speed_bps: Math.round(speed),
      eta_s: run && total !== null && speed > 0 ? Math.max(0, Math.round((total - bytes) / speed)) : null,
      proxy: record.attempts === 0 ? null : ((t ? t.proxy : job.proxy) ?? 'DIRECT'),
      connections: t ? t.connections : (job.connections ?? this.#s.config.connections),
      active_connections: t ? t.activeConnections : 0,
      store: job.store,
      headers: job.headers.map(([name]) => name),
      ca_file: job.ca_file,
      attempts: record.attempts,
      resumes: record.resumes,
      restarts: record.restarts,
      error: job.error,
      max_rate: job.max_rate,
      created_at: new Date(job.created_at).toISOString(),
      started_at: job.started_at === null ? null : new Date(job.started_at).toISOString(),
      finished_at: job.finished_at === null ? null : new Date(job.finished_at).toISOString(),
    };
  }

  // ---- one job -----------------------------------------------------------

  async #run(job: JobRecord, run: Running): Promise<void> {
    const store = this.#store(job);
    let files: JobFiles | null = null;
    try {
      const partSize = job.part_size ?? this.#s.config.part_size;
      if (job.part_size === null) this.#table.update(job.id, { part_size: partSize });
      files = this.#paused.get(job.id) ?? null;
      this.#paused.delete(job.id);
      if (!files) {
        prepareParent(job.dest, this.#rules());
        const opened = await store.open({ ...job, part_size: partSize }, partSize);
        if (opened === 'at-dest') {
          this.#done(job, job.total ?? 0, null);
          return;
        }
        files = opened;
        if (job.bytes > 0 && files.map.heldBytes() < job.bytes) this.#log.info({ job: job.id, held: files.map.heldBytes(), recorded: job.bytes }, 'parts dropped at the check; fetching them again');
      }
      run.files = files;
      if (run.stop) return await this.#afterStop(job, run, files);
      const fresh = this.#job(job.id);
      const transfer = new Transfer({ ...fresh, part_size: partSize }, files, {
        router: this.#router,
        store,
        table: this.#table,
        config: this.#s.config,
        global: this.#global,
        metrics: {
          bytes: (n) => {
            this.#m.bytes.inc(n);
            this.#m.speed.mark(n);
          },
          resume: () => this.#m.resumes.inc(),
          restart: () => this.#m.restarts.inc(),
          failover: () => this.#m.failovers.inc(),
          retry: () => this.#m.retries.inc(),
        },
        log: this.#log,
        sleep: this.#sleep,
        newHash: () => this.#fileHasher.stream(),
        partHasher: this.#partHasher,
        dbDir: this.#s.dbDir,
        caFile: job.ca_file ?? this.#s.caFile,
      });
      run.transfer = transfer;
      if (run.stop) transfer.stop(run.stop);
      const outcome = await transfer.run();
      if (outcome === 'stopped' || run.stop) return await this.#afterStop(job, run, files);
      this.#setState(job.id, 'verifying');
      const t = transfer.timings;
      this.#log.info({ job: job.id, bytes: transfer.bytes(), commits: t.commits, commit_ms: Math.round(t.commitMs), hash_wait_ms: Math.round(t.hashWaitMs), durable_wait_ms: Math.round(t.durableWaitMs) }, 'download complete, verifying');
      let finished;
      try {
        finished = await finishJob(transfer.job, files, { rules: this.#rules(), partHasher: this.#partHasher, log: this.#log });
      } catch (err) {
        // The bytes are not the file asked for: nothing held is worth keeping.
        if (err instanceof JobFailure) {
          store.discard(job.id);
          await files.discard();
        }
        throw err;
      }
      files = null;
      this.#done(job, finished.size, finished.sha256);
    } catch (err) {
      if (run.stop) {
        if (files) await this.#afterStop(job, run, files);
        return;
      }
      this.#log.debug({ err, job: job.id }, 'download error');
      this.#fail(job.id, describeFailure(err, job));
      // The parts and the partial file stay: retry continues from them.
      await files?.close();
    }
  }

  #done(job: JobRecord, size: number, sha256: string | null): void {
    this.#table.update(job.id, { bytes: size, total: size });
    this.#setState(job.id, 'done', null, Date.now());
    // Done as soon as the file is in place; its parts' rows go after (start() sweeps them after a crash).
    this.#store(job).forget(job.id);
    this.#m.completed.inc();
    this.#log.info({ job: job.id, dest: job.dest, bytes: size, ...(sha256 ? { sha256 } : {}) }, 'download done');
  }

  async #afterStop(job: JobRecord, run: Running, files: JobFiles): Promise<void> {
    // pause: state already `paused`, parts and the partial file kept open for the resume;
    // cancel: parts dropped (again: one may have landed between the command and the abort);
    // close: stays `active`, resumes at the next start (the partial file is checked then).
    if (run.stop === 'cancel') {
      this.#store(job).discard(run.id);
      await files.discard();
    } else if (run.stop === 'pause' && !this.#closing) {
      this.#paused.set(job.id, files);
    } else {
      await files.close();
    }
  }

  /** Closes and deletes the job's partial file, whether this process holds it or not. */
  async #discardFiles(job: JobRecord): Promise<void> {
    const files = this.#paused.get(job.id);
    this.#paused.delete(job.id);
    if (files) await files.discard();
    else await removeOwnPartial(`${job.dest}.partial`);
  }

  #fail(id: number, message: string): void {
    const now = Date.now();
    try {
      this.#setState(id, 'failed', message, now);
    } catch (err) {
      // The DB itself may be what failed (SQLITE_FULL): keep the verdict in memory so the
      // job shows as failed and can be retried once there is room again.
      this.#unrecorded.set(id, { state: 'failed', error: message, finished_at: now });
      const before = this.#table.get(id);
      if (before) this.#announce(before, 'failed', message, before.state);
      this.#log.error({ err, job: id }, 'could not record the failure in the state DB; kept in memory');
    }
    this.#m.failed.inc();
    this.#log.warn({ job: id, error: message }, 'download failed');
  }
}

/** Removes a partial file left by a job, if it is a regular file of ours (a link is only unlinked). */
async function removeOwnPartial(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st) return;
  if (st.isSymbolicLink() || (st.isFile() && st.uid === (process.geteuid?.() ?? st.uid))) await unlink(path).catch(() => undefined);
}

function describeFailure(err: unknown, job: JobRecord): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `no space left on device writing ${job.dest}.partial`;
  if (code === 'SQLITE_FULL') return 'no space left on device for the download state DB';
  if (err instanceof JobFailure || isLocalIoError(err)) return (err as Error).message;
  return err instanceof Error ? err.message : String(err);
}
