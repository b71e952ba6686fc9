import type { FailureDecision, ProxyAttempt, ProxyJob, ProxyRouter } from '../upstream/api.js';

/**
 * A router with no proxies: every attempt is DIRECT, and a proxy failure
 * (impossible here) fails the job. For running downloads without the upstream
 * subsystem, and for tests of the download manager alone.
 */
export function directRouter(timeoutMs: number): ProxyRouter {
  const attempt: ProxyAttempt = { proxy: null, timeoutMs, lowSpeedLimit: 0 };
  return {
    attempt: (_job: ProxyJob) => attempt,
    reportSuccess: () => undefined,
    reportFailure: (): FailureDecision => ({ action: 'retry', delayMs: 0, reason: 'direct' }),
  };
}
