import type { Dispatcher } from 'undici';

/**
 * What a fetcher (the download manager) needs from the upstream proxy list, per
 * request. Implemented in src/upstream; consumed by src/download, which depends
 * on this file only (types), never on upstream internals.
 *
 * The router owns the whole failure policy: which proxy, which dispatcher and
 * timeouts, who is to blame for a failure, whether and when to retry. The
 * fetcher carries out its decisions:
 *
 *   a = router.attempt(job, url, lane)   → request url through a.dispatcher
 *   ok   → router.reportSuccess(job, a)
 *   fail → d = router.reportFailure(job, a, evidence)
 *          d.action: 'retry' (after d.delayMs) | 'skip-source' | 'fail'
 */

/** A job as the router sees it. The fetcher keeps `plan` with the job and never reads it. */
export interface ProxyJob {
  /** Sharding key: the job's sha256 when given, else its first URL. */
  readonly key: string;
  /** The sources (mirror URLs) still usable for the job; the fetcher drops the ones it skips. */
  readonly sources: readonly string[];
  /** Failed attempts in a row without progress after which the job gives up (downloads.max_retries). */
  readonly maxRetries: number;
  /** PEM file of extra CAs for https origins (--ca-file, downloads.ca_file); null = the built-in ones. */
  readonly caFile: string | null;
  /** Router-owned: revision, group, member order, positions, failure counts. */
  plan: object | null;
}

/** One request's route: chosen by `attempt`, handed back with its outcome. */
export interface ProxyAttempt {
  /** The source (mirror URL) this attempt fetches. */
  readonly url: string;
  /** `http://host:port` of the proxy to use, or null for DIRECT. */
  readonly proxy: string | null;
  /** The connection pool for this member (shared with the health probes), redirects followed. */
  readonly dispatcher: Dispatcher;
  /** Response-header timeout (proxy.timeout or proxy.timeout_direct), ms; connects use the same. */
  readonly timeoutMs: number;
  /** Bytes/s below which the transfer counts as slow (proxy.low_speed_limit); 0 = no check. */
  readonly lowSpeedLimit: number;
  /** Window over which the low-speed limit is measured, ms. */
  readonly lowSpeedTimeMs: number;
}

/** What a failed request looked like. The router classifies it (see classify.ts). */
export interface FailureEvidence {
  /** Set when the request threw (connect refused, reset, timeout, TLS…). */
  error?: Error & { code?: string };
  /** HTTP status, when a response arrived. */
  status?: number;
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The transfer was aborted for going under the low-speed limit. */
  slow?: boolean;
  /** Body bytes this attempt delivered before it failed (progress resets the retry count). */
  bytes: number;
}

/**
 * Who a failure is blamed on: the proxy (cvmfs's proxy error), the host (the
 * origin or the path to it), a slow transfer (neither), or TLS verification
 * (the origin's certificate is not trusted: no retry can fix it).
 */
export type Blame = 'proxy' | 'host' | 'slow' | 'tls';

export interface FailureDecision {
  /**
   * retry: the same source again (the next attempt() may pick another proxy) after delayMs;
   * skip-source: the source is of no further use to this job (the fetcher drops it, and fails
   *   the job with `reason` when none is left);
   * fail: nothing another source could fix (no proxy left): the job fails with `reason`.
   */
  readonly action: 'retry' | 'skip-source' | 'fail';
  readonly delayMs: number;
  readonly blame: Blame;
  /** Why, for the job's error text and the log. */
  readonly reason: string;
}

export interface ProxyRouter {
  /**
   * The route of the job's next request to `url` on connection `lane` (0-based): lanes of one
   * job spread over the active group's members when the policy allows (the default policy),
   * else share its one preferred member. Re-plans when the list's revision moved.
   */
  attempt(job: ProxyJob, url: string, lane: number): ProxyAttempt;
  /** The request got its response and its body through: the source and the proxy work. */
  reportSuccess(job: ProxyJob, attempt: ProxyAttempt): void;
  reportFailure(job: ProxyJob, attempt: ProxyAttempt, evidence: FailureEvidence): FailureDecision;
}
