import { describe, expect, it } from 'vitest';
import { classifyFailure, type FailureEvidence } from '../../../src/upstream/api.js';

const err = (code: string, message = code) => Object.assign(new Error(message), { code });
const wrapped = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: err(code) });

describe('classifyFailure (as cvmfs)', () => {
  const table: Array<[string, FailureEvidence, string]> = [
    ['connection refused by the proxy', { viaProxy: true, error: err('ECONNREFUSED') }, 'proxy'],
    ['proxy name does not resolve', { viaProxy: true, error: err('ENOTFOUND') }, 'proxy'],
    ['connect timeout to the proxy (undici)', { viaProxy: true, error: err('UND_ERR_CONNECT_TIMEOUT') }, 'proxy'],
    ['reset mid-transfer, wrapped by fetch', { viaProxy: true, error: wrapped('ECONNRESET') }, 'proxy'],
    ['socket closed by the proxy (undici)', { viaProxy: true, error: err('UND_ERR_SOCKET') }, 'proxy'],
    ['CONNECT refused by the proxy', { viaProxy: true, error: err('UND_ERR_ABORTED', 'Proxy response (502) !== 200 when HTTP Tunneling') }, 'proxy'],
    ['502 from the proxy', { viaProxy: true, status: 502 }, 'proxy'],
    ['503 from the proxy', { viaProxy: true, status: 503 }, 'proxy'],
    ['504 from the proxy', { viaProxy: true, status: 504 }, 'proxy'],
    ['a squid error page', { viaProxy: true, status: 403, headers: { 'x-squid-error': 'ERR_ACCESS_DENIED 0' } }, 'proxy'],
    ['Proxy-Status with an error', { viaProxy: true, status: 500, headers: { 'Proxy-Status': 'squid; error=connection_refused' } }, 'proxy'],
    ['the origin\'s 404 through a proxy', { viaProxy: true, status: 404 }, 'host'],
    ['the origin\'s 500 through a proxy', { viaProxy: true, status: 500 }, 'host'],
    ['Proxy-Status without an error', { viaProxy: true, status: 500, headers: { 'proxy-status': 'squid; received-status=500' } }, 'host'],
    ['a checksum mismatch', { viaProxy: true, error: err('PXC_ERR_CHECKSUM', 'sha256 mismatch') }, 'host'],
    ['connection refused DIRECT', { viaProxy: false, error: err('ECONNREFUSED') }, 'host'],
    ['502 DIRECT', { viaProxy: false, status: 502 }, 'host'],
    ['a slow transfer through a proxy', { viaProxy: true, slow: true, error: err('ETIMEDOUT') }, 'slow'],
    ['a slow transfer DIRECT', { viaProxy: false, slow: true }, 'slow'],
  ];
  it.each(table)('%s → %s', (_name, evidence, kind) => {
    expect(classifyFailure(evidence)).toBe(kind);
  });
});
