import type { FailureEvidence, ProxyFailureKind } from './api.js';

/**
 * cvmfs's classification of a failed request (download.cc VerifyAndFinalize):
 *   proxy — the proxy could not be reached or resolved, timed out, reset the
 *           connection, refused the CONNECT tunnel, answered 502/503/504, or
 *           marked its own error page (`X-Squid-Error`, `Proxy-Status: …; error=`);
 *   host  — everything the origin said through a working proxy (4xx/5xx), and
 *           every failure of a DIRECT request (there is no proxy to blame);
 *   slow  — the transfer went under low_speed_limit: neither is dead.
 */

const PROXY_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ECONNTIMEOUT',
]);

const PROXY_STATUSES = new Set([502, 503, 504]);

/** The first `code` along an error's cause chain (undici wraps socket errors). */
export function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_ABORTED' && code !== 'ABORT_ERR') return code;
    if (e instanceof AggregateError && e.errors.length > 0) {
      const inner = errorCode(e.errors[0]);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** A short name for an error in logs and `last_error`: its code, else its message. */
export function describeError(err: unknown): string {
  const code = errorCode(err);
  if (code) return code;
  return err instanceof Error ? err.message : String(err);
}

function header(headers: FailureEvidence['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const v = headers[name] ?? headers[name.toLowerCase()] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function classifyFailure(evidence: FailureEvidence): ProxyFailureKind {
  if (evidence.slow) return 'slow';
  if (!evidence.viaProxy) return 'host';
  if (evidence.error) {
    // undici's ProxyAgent: a CONNECT answered with anything but 200 is the proxy refusing the tunnel.
    if (/Proxy response \(\d+\) !== 200/.test(evidence.error.message)) return 'proxy';
    const code = errorCode(evidence.error);
    if (code && PROXY_ERROR_CODES.has(code)) return 'proxy';
    if (evidence.status === undefined) return 'host';
  }
  if (header(evidence.headers, 'x-squid-error')) return 'proxy';
  const proxyStatus = header(evidence.headers, 'proxy-status');
  if (proxyStatus && /;\s*error\s*=/i.test(proxyStatus)) return 'proxy';
  if (evidence.status !== undefined && PROXY_STATUSES.has(evidence.status)) return 'proxy';
  return 'host';
}
