import type { Blame, FailureEvidence } from './api.js';

/**
 * Who a failed request is blamed on, after cvmfs's VerifyAndFinalize, reading
 * what proxies say about their errors:
 *
 *   proxy — the proxy could not be reached (refused, unreachable, unresolvable,
 *           connect timeout), wants authentication (407), or reports an error of
 *           its own (`X-Squid-Error` of another kind, `Proxy-Status` error types
 *           other than the ones below);
 *   host  — the origin's answer through a working proxy (4xx, 5xx), every failure
 *           of a DIRECT request, and what a proxy reports about the origin: squid's
 *           ERR_CONNECT_FAIL, ERR_DNS_FAIL, ERR_READ_TIMEOUT, RFC 9209 error types
 *           destination_*, dns_*, connection_refused, connection_timeout;
 *   slow  — the transfer went under the low-speed limit: neither is dead;
 *   tls   — the origin's certificate failed verification: no retry can help.
 *
 * Some evidence fits either party: a 502/503/504 without an error kind, a
 * refused CONNECT, a connection closed or timed out after the proxy accepted
 * the request. It is `ambiguous`: blamed on the proxy (as cvmfs does) until the
 * same URL has failed through every member of the group (see router.ts).
 */

export interface Classification {
  readonly blame: Blame;
  /** Proxy blame on evidence that fits the host as well. */
  readonly ambiguous: boolean;
  /** Short description: `ECONNREFUSED`, `HTTP 503 (ERR_CONNECT_FAIL)`, … */
  readonly what: string;
}

/** Errors of the TCP connect to the proxy: the proxy is not there. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ECONNTIMEOUT',
]);

/** The proxy accepted the request, then the connection broke or went quiet. */
const AFTER_CONNECT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

const GATEWAY_STATUSES = new Set([502, 503, 504]);

/** squid error pages about the origin (`X-Squid-Error: ERR_CONNECT_FAIL 111`). */
const SQUID_HOST_ERRORS = new Set(['ERR_CONNECT_FAIL', 'ERR_DNS_FAIL', 'ERR_READ_TIMEOUT']);

/** RFC 9209 Proxy-Status error types about the origin. */
const isHostProxyStatus = (type: string): boolean => /^(destination_|dns_)/.test(type) || type === 'connection_refused' || type === 'connection_timeout';

/** Node's and OpenSSL's certificate verification failures. */
const isTlsVerifyCode = (code: string): boolean => /CERT|^UNABLE_TO_(GET|VERIFY)|SELF_SIGNED|^ERR_TLS_CERT_ALTNAME_INVALID$|^HOSTNAME_MISMATCH$/.test(code);

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
  const v = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The error type of the first RFC 9209 Proxy-Status member that carries one. */
export function proxyStatusError(value: string | undefined): string | null {
  if (!value) return null;
  for (const member of value.split(',')) {
    const m = /;\s*error\s*=\s*"?([A-Za-z0-9_.-]+)"?/.exec(member);
    if (m) return m[1]!.toLowerCase();
  }
  return null;
}

/** The error kind of a squid error page: `ERR_CONNECT_FAIL 111` → `ERR_CONNECT_FAIL`. */
export function squidError(value: string | undefined): string | null {
  const m = value ? /^\s*(ERR_[A-Z_]+)/.exec(value) : null;
  return m ? m[1]! : null;
}

export function classifyFailure(evidence: FailureEvidence, viaProxy: boolean): Classification {
  const { error, status } = evidence;
  const code = error ? errorCode(error) : undefined;
  if (code && isTlsVerifyCode(code)) return { blame: 'tls', ambiguous: false, what: `${error!.message} (${code})` };
  if (evidence.slow) return { blame: 'slow', ambiguous: false, what: 'slow transfer' };
  // A body that broke after its response arrived is described by the error, not by its status.
  const what = error ? (code ?? error.message) : status !== undefined ? `HTTP ${status}` : 'unknown error';
  if (!viaProxy) return { blame: 'host', ambiguous: false, what };

  if (error && status === undefined) {
    // undici's ProxyAgent: a CONNECT answered with anything but 200 is the proxy refusing the tunnel.
    const tunnel = /Proxy response \((\d+)\) !== 200/.exec(error.message);
    if (tunnel) {
      const s = Number(tunnel[1]);
      const w = `CONNECT answered ${s}`;
      return GATEWAY_STATUSES.has(s) ? { blame: 'proxy', ambiguous: true, what: w } : { blame: 'proxy', ambiguous: false, what: w };
    }
    // undici answers a proxy's 407 to an absolute-form request with this error.
    if (/Proxy Authentication Required/.test(error.message)) return { blame: 'proxy', ambiguous: false, what: 'HTTP 407 (proxy authentication required)' };
    if (code && CONNECT_CODES.has(code)) return { blame: 'proxy', ambiguous: false, what };
    if (code && AFTER_CONNECT_CODES.has(code)) return { blame: 'proxy', ambiguous: true, what };
    return { blame: 'host', ambiguous: false, what };
  }

  const squid = squidError(header(evidence.headers, 'x-squid-error'));
  if (squid) return { blame: SQUID_HOST_ERRORS.has(squid) ? 'host' : 'proxy', ambiguous: false, what: `${what} (${squid})` };
  const ps = proxyStatusError(header(evidence.headers, 'proxy-status'));
  if (ps) return { blame: isHostProxyStatus(ps) ? 'host' : 'proxy', ambiguous: false, what: `${what} (Proxy-Status: ${ps})` };
  if (status === 407) return { blame: 'proxy', ambiguous: false, what: `${what} (proxy authentication required)` };
  if (status !== undefined && GATEWAY_STATUSES.has(status)) return { blame: 'proxy', ambiguous: true, what };
  // An error after a response (the body broke) through a proxy: could be either side.
  if (code && (AFTER_CONNECT_CODES.has(code) || CONNECT_CODES.has(code))) return { blame: 'proxy', ambiguous: true, what: code };
  return { blame: 'host', ambiguous: false, what };
}
