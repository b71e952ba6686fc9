/**
 * What the download manager (and anything else fetching upstream) needs from the
 * proxy list, per request. Implemented in src/upstream; consumed by
 * src/download. Downloads depend on this file only, never on upstream internals.
 *
 * Flow per request:  attempt = router.attempt(job)  → fetch via attempt.proxy
 *   ok   → router.reportSuccess(job, attempt)
 *   fail → kind = classifyFailure(...) ; decision = router.reportFailure(job, attempt, kind, err)
 *          decision.action: 'retry' (at once, or after decision.delayMs) | 'fail'
 */

/** cvmfs's classification: a proxy error blames the proxy, a host error the origin, slow neither. */
export type ProxyFailureKind = 'proxy' | 'host' | 'slow';

/** A job as the router sees it. The downloader keeps `plan` with the job and never reads it. */
export interface ProxyJob {
  /** Sharding key: the job's sha256 when given, else its URL. */
  readonly key: string;
  readonly url: string;
  /** Router-owned: revision, group, member order, current index, policy data. */
  plan: object | null;
}

export interface ProxyAttempt {
  /** `http://host:port` of the proxy to use, or null for DIRECT. */
  readonly proxy: string | null;
  /** Connect + response-header timeout for this attempt (proxy.timeout or proxy.timeout_direct), ms. */
  readonly timeoutMs: number;
  /** Bytes/s below which the transfer counts as slow (proxy.low_speed_limit). */
  readonly lowSpeedLimit: number;
}

export interface FailureDecision {
  readonly action: 'retry' | 'fail';
  /** Wait this long before the retry (backoff after a slow transfer); 0 = at once. */
  readonly delayMs: number;
  /** Why, for the job's error text and the log. */
  readonly reason: string;
}

export interface ProxyRouter {
  /** The proxy for the job's next request; re-plans when the list's revision moved since the job's plan. */
  attempt(job: ProxyJob): ProxyAttempt;
  reportSuccess(job: ProxyJob, attempt: ProxyAttempt): void;
  reportFailure(job: ProxyJob, attempt: ProxyAttempt, kind: ProxyFailureKind, error: Error): FailureDecision;
}

/** What a failed request looked like, for classifyFailure. */
export interface FailureEvidence {
  /** Set when the request threw (connect refused, reset, timeout…). */
  error?: Error & { code?: string };
  /** HTTP status, when a response arrived. */
  status?: number;
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** Whether the request went through a proxy (false = DIRECT). */
  viaProxy: boolean;
  /** The transfer was aborted for going under low_speed_limit. */
  slow?: boolean;
}

/**
 * Classifies a failed request as cvmfs does: `proxy` (connect/resolve/timeout/reset
 * through a proxy, 502/503/504, `X-Squid-Error`, `Proxy-Status: …; error=`), `host`
 * (the origin's answer through a working proxy, any DIRECT failure, a checksum
 * mismatch) or `slow` (under low_speed_limit). For `host` the router answers
 * `fail`: retrying the origin's own errors is the downloader's call (downloads.max_retries).
 */
export { classifyFailure } from './classify.js';
