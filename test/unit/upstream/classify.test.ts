import { describe, expect, it } from 'vitest';
import type { FailureEvidence } from '../../../src/upstream/api.js';
import { classifyFailure, proxyStatusError, squidError } from '../../../src/upstream/classify.js';

const err = (code: string, message = code) => Object.assign(new Error(message), { code });
const wrapped = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: err(code) });

describe('classifyFailure: who is to blame', () => {
  const table: Array<[string, FailureEvidence, boolean, string, boolean]> = [
    ['connection refused by the proxy', { error: err('ECONNREFUSED'), bytes: 0 }, true, 'proxy', false],
    ['proxy name does not resolve', { error: err('ENOTFOUND'), bytes: 0 }, true, 'proxy', false],
    ['connect timeout to the proxy (undici)', { error: err('UND_ERR_CONNECT_TIMEOUT'), bytes: 0 }, true, 'proxy', false],
    ['407 from the proxy (undici)', { error: err('UND_ERR_INVALID_ARG', 'Proxy Authentication Required (407)'), bytes: 0 }, true, 'proxy', false],
    ['reset mid-transfer, wrapped by fetch', { error: wrapped('ECONNRESET'), bytes: 10 }, true, 'proxy', true],
    ['socket closed by the proxy (undici)', { error: err('UND_ERR_SOCKET'), bytes: 0 }, true, 'proxy', true],
    ['no response headers in time through the proxy', { error: err('UND_ERR_HEADERS_TIMEOUT'), bytes: 0 }, true, 'proxy', true],
    ['CONNECT answered 503', { error: err('UND_ERR_ABORTED', 'Proxy response (503) !== 200 when HTTP Tunneling'), bytes: 0 }, true, 'proxy', true],
    ['CONNECT answered 403', { error: err('UND_ERR_ABORTED', 'Proxy response (403) !== 200 when HTTP Tunneling'), bytes: 0 }, true, 'proxy', false],
    ['a bare 502 from the proxy', { status: 502, bytes: 0 }, true, 'proxy', true],
    ['a bare 504 from the proxy', { status: 504, bytes: 0 }, true, 'proxy', true],
    ['squid denying access', { status: 403, headers: { 'x-squid-error': 'ERR_ACCESS_DENIED 0' }, bytes: 0 }, true, 'proxy', false],
    ['squid cannot reach the origin', { status: 503, headers: { 'x-squid-error': 'ERR_CONNECT_FAIL 111' }, bytes: 0 }, true, 'host', false],
    ['squid cannot resolve the origin', { status: 503, headers: { 'X-Squid-Error': 'ERR_DNS_FAIL 0' }, bytes: 0 }, true, 'host', false],
    ['squid timed out reading the origin', { status: 504, headers: { 'x-squid-error': 'ERR_READ_TIMEOUT 0' }, bytes: 0 }, true, 'host', false],
    ['Proxy-Status destination_unavailable', { status: 502, headers: { 'Proxy-Status': 'squid; error=destination_unavailable' }, bytes: 0 }, true, 'host', false],
    ['Proxy-Status dns_error', { status: 502, headers: { 'proxy-status': 'p; error=dns_error; rcode=NXDOMAIN' }, bytes: 0 }, true, 'host', false],
    ['Proxy-Status connection_refused', { status: 502, headers: { 'proxy-status': 'p; error=connection_refused' }, bytes: 0 }, true, 'host', false],
    ['Proxy-Status proxy_internal_error', { status: 500, headers: { 'proxy-status': 'p; error=proxy_internal_error' }, bytes: 0 }, true, 'proxy', false],
    ["the origin's 404 through a proxy", { status: 404, bytes: 0 }, true, 'host', false],
    ["the origin's 500 through a proxy", { status: 500, bytes: 0 }, true, 'host', false],
    ['Proxy-Status without an error', { status: 500, headers: { 'proxy-status': 'squid; received-status=500' }, bytes: 0 }, true, 'host', false],
    ['connection refused DIRECT', { error: err('ECONNREFUSED'), bytes: 0 }, false, 'host', false],
    ['502 DIRECT', { status: 502, bytes: 0 }, false, 'host', false],
    ['a slow transfer through a proxy', { slow: true, error: err('ETIMEDOUT'), bytes: 5 }, true, 'slow', false],
    ['a self-signed origin certificate', { error: err('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), bytes: 0 }, false, 'tls', false],
    ['an unknown issuer through a tunnel', { error: wrapped('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), bytes: 0 }, true, 'tls', false],
    ['a certificate for another name', { error: err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), bytes: 0 }, false, 'tls', false],
  ];
  it.each(table)('%s', (_name, evidence, viaProxy, blame, ambiguous) => {
    expect(classifyFailure(evidence, viaProxy)).toMatchObject({ blame, ambiguous });
  });
});

describe('proxy error reports', () => {
  it("reads squid's error kind", () => {
    expect(squidError('ERR_CONNECT_FAIL 111')).toBe('ERR_CONNECT_FAIL');
    expect(squidError(undefined)).toBeNull();
  });
  it('reads the first RFC 9209 member that carries an error type', () => {
    expect(proxyStatusError('origin-side; received-status=503, "edge"; error=connection_timeout; details="x"')).toBe('connection_timeout');
    expect(proxyStatusError('p; error="destination_not_found"')).toBe('destination_not_found');
    expect(proxyStatusError('p; received-status=200')).toBeNull();
  });
});
