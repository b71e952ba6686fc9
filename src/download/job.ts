/** A download job as the queue stores it and as `download info` shows it. */

export const JOB_STATES = ['queued', 'active', 'verifying', 'done', 'paused', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves on its own. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

/** Where a job's bytes live until it is done (downloads.store at the time it was added). */
export type StoreKind = 'file' | 'sqlite';

/**
 * One mirror of a job's file. `usable` until the job skips it (it failed: host failure)
 * or refuses it (its file differs: another size, no Range support while others have it).
 */
export interface SourceRecord {
  url: string;
  state: 'usable' | 'skipped' | 'refused';
  /** Validators of this source's file, for If-Range (ETags differ between servers). */
  etag: string | null;
  last_modified: string | null;
  /** Body bytes this source delivered to the job (kept across restarts). */
  bytes: number;
  /** Failed requests to this source. */
  errors: number;
  last_error: string | null;
}

/** The persistent row (the `download_jobs` table). Times are ms since the epoch. */
export interface JobRecord {
  id: number;
  index: number | null;
  /** The first source's URL (the one `list` shows). */
  url: string;
  sources: SourceRecord[];
  dest: string;
  sha256: string | null;
  state: JobState;
  /** Bytes of the parts held durably (or, once done, the file size). */
  bytes: number;
  /** Size of the remote file, once known. */
  total: number | null;
  /** Part size fixed at the job's first run (parts are ranges of this size). */
  part_size: number | null;
  store: StoreKind;
  /** Connections for this job; null = downloads.connections. */
  connections: number | null;
  /** Extra request headers, `[name, value]`. */
  headers: Array<[string, string]>;
  /** PEM file of extra CAs for this job; null = downloads.ca_file. */
  ca_file: string | null;
  proxy: string | null;
  /** Requests made for this job, over its whole life. */
  attempts: number;
  /** Requests that continued from bytes already held (after a pause, a restart or a broken transfer). */
  resumes: number;
  /** Times the job dropped what it held and started again from byte 0 (the file changed, or Range was ignored). */
  restarts: number;
  error: string | null;
  /** Per-job rate limit, bytes/s; 0 = none. */
  max_rate: number;
  force: boolean;
  created_at: number;
  /** When its first transfer began (null until then). */
  started_at: number | null;
  finished_at: number | null;
}

export interface SourceView {
  url: string;
  state: SourceRecord['state'];
  bytes: number;
  errors: number;
  last_error: string | null;
}

/** What the control commands return: the record plus live progress. */
export interface JobView {
  id: number;
  index: number | null;
  url: string;
  sources: SourceView[];
  dest: string;
  sha256: string | null;
  state: JobState;
  /** Bytes received so far, including parts not yet durable. */
  bytes: number;
  total: number | null;
  /** Moving average over the last seconds while active, else 0. */
  speed_bps: number;
  /** Seconds left at the current speed, when both are known. */
  eta_s: number | null;
  /** `http://host:port` of the proxy in use (or last used), `DIRECT` for none; null before the job's first request. */
  proxy: string | null;
  /** Connections the job uses (or may use); `active_connections` of them are open now. */
  connections: number;
  active_connections: number;
  store: StoreKind;
  /** Names of the extra request headers (values are not shown: they may be credentials). */
  headers: string[];
  ca_file: string | null;
  attempts: number;
  resumes: number;
  restarts: number;
  error: string | null;
  max_rate: number;
  created_at: string;
  /** When its first transfer began: elapsed time counts from here. */
  started_at: string | null;
  finished_at: string | null;
}
