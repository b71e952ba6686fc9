import type { FailureEvidence, ProxyFailureKind } from '../upstream/api.js';

/**
 * cvmfs's failure classification, as the downloader needs it until the upstream
 * subsystem's `classifyFailure` is wired in (the manager takes the function as
 * an option, so swapping is one line). Through a proxy, a failure to reach or
 * hear from the proxy blames the proxy; DIRECT, it blames the host. A gateway
 * status from a proxy (502/503/504) or 407 blames the proxy too.
 */
export function classifyLocally(e: FailureEvidence): ProxyFailureKind {
  if (e.slow) return 'slow';
  if (e.error) return e.viaProxy ? 'proxy' : 'host';
  if (e.viaProxy && e.status !== undefined && [407, 502, 503, 504].includes(e.status)) return 'proxy';
  return 'host';
}
