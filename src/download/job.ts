/** A download job as the queue stores it and as `download info` shows it. */

export const JOB_STATES = ['queued', 'active', 'verifying', 'done', 'paused', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves on its own. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

/** The persistent row (the `download_jobs` table). Times are ms since the epoch. */
export interface JobRecord {
  id: number;
  index: number | null;
  url: string;
  dest: string;
  sha256: string | null;
  state: JobState;
  /** Bytes committed to parts (or, once done, the file size). */
  bytes: number;
  /** Content length of the remote file, once known. */
  total: number | null;
  /** Validator for If-Range: the first response's ETag, else its Last-Modified. */
  etag: string | null;
  last_modified: string | null;
  proxy: string | null;
  attempts: number;
  error: string | null;
  /** Per-job rate limit, bytes/s; 0 = none. */
  max_rate: number;
  force: boolean;
  created_at: number;
  finished_at: number | null;
}

/** What the control commands return: the record plus live progress. */
export interface JobView {
  id: number;
  index: number | null;
  url: string;
  dest: string;
  sha256: string | null;
  state: JobState;
  /** Bytes received so far, including the part not yet committed. */
  bytes: number;
  total: number | null;
  /** Moving average over the last seconds while active, else 0. */
  speed_bps: number;
  /** Seconds left at the current speed, when both are known. */
  eta_s: number | null;
  /** `http://host:port` of the proxy in use (or last used); null = DIRECT. */
  proxy: string | null;
  attempts: number;
  resumes: number;
  restarts: number;
  error: string | null;
  max_rate: number;
  created_at: string;
  finished_at: string | null;
}
