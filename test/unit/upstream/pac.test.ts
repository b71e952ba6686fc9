import { afterEach, describe, expect, it } from 'vitest';
import { evaluatePac, pacResultToGroups, resolvePac } from '../../../src/upstream/pac.js';
import { closePacOrigins, pacAnswering, startPacOrigin } from './pac-origin.js';

afterEach(closePacOrigins);

describe('a PAC answer', () => {
  it('becomes one failover group per entry, in order, as cvmfs makes them', () => {
    expect(pacResultToGroups('PROXY a:3128; HTTPS b.example.org:443;HTTP [::1]:8080 ; DIRECT')).toEqual({
      groups: [['http://a:3128'], ['https://b.example.org:443'], ['http://[::1]:8080'], ['DIRECT']],
      skipped: [],
    });
  });

  it('skips SOCKS, malformed and repeated entries, naming what it skipped', () => {
    const r = pacResultToGroups('SOCKS5 s:1080; PROXY a:3128; PROXY nope; PROXY a:3128; BOGUS x');
    expect(r.groups).toEqual([['http://a:3128']]);
    expect(r.skipped).toEqual(['"SOCKS5 s:1080": SOCKS proxies are not supported', '"PROXY nope": missing port in "http://nope" (e.g. http://nope:3128)', '"BOGUS x": not PROXY, HTTP, HTTPS or DIRECT']);
  });
});

describe('PAC evaluation', () => {
  it('runs FindProxyForURL with the PAC helpers, for the URL and its host', async () => {
    const code = 'function FindProxyForURL(url, host) { if (dnsDomainIs(host, ".example.org") && shExpMatch(url, "http://*")) return "PROXY p:1; DIRECT"; return "DIRECT"; }';
    expect(await evaluatePac(code, 'http://cvmfs.example.org/x', 2000)).toBe('PROXY p:1; DIRECT');
    expect(await evaluatePac(code, 'http://other.net/x', 2000)).toBe('DIRECT');
  });

  it('is sandboxed: no node globals, and a looping script is interrupted at the deadline', async () => {
    const probe = 'function FindProxyForURL() { return [typeof process, typeof require, typeof globalThis.fetch].join(","); }';
    expect(await evaluatePac(probe, 'http://example.org/', 2000)).toBe('undefined,undefined,undefined');
    const started = Date.now();
    await expect(evaluatePac('function FindProxyForURL() { for (;;) {} }', 'http://example.org/', 200)).rejects.toThrow('FindProxyForURL did not answer within 200 ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('names a script that does not compile or defines no FindProxyForURL', async () => {
    await expect(evaluatePac('function FindProxyForURL( {', 'http://example.org/', 2000)).rejects.toThrow(/SyntaxError|Unexpected|expecting/);
    await expect(evaluatePac('var x = 1;', 'http://example.org/', 2000)).rejects.toThrow(/FindProxyForURL/);
  });
});

describe('resolving the PAC URLs', () => {
  it('takes the first URL that answers with a usable proxy, fetched from a real origin', async () => {
    const broken = await startPacOrigin('');
    broken.status = 404;
    const good = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128; DIRECT'));
    const r = await resolvePac({ urls: [broken.url, good.url], queryUrl: 'http://cvmfs.example.org/', timeoutMs: 2000 });
    expect(r).toEqual({ source: good.url, result: 'PROXY 127.0.0.1:3128; DIRECT', groups: [['http://127.0.0.1:3128'], ['DIRECT']], skipped: [] });
    expect(broken.requests).toBe(1);
  });

  it('fails with PXC_ERR_PAC naming every URL and what went wrong with it', async () => {
    const notFound = await startPacOrigin('');
    notFound.status = 404;
    const garbage = await startPacOrigin('this is not javascript (');
    const socks = await startPacOrigin(pacAnswering('SOCKS 127.0.0.1:1080'));
    const err = await resolvePac({ urls: [notFound.url, garbage.url, socks.url], queryUrl: 'http://cvmfs.example.org/', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PXC_ERR_PAC' });
    const message = (err as Error).message;
    expect(message).toContain(`${notFound.url}: cannot fetch: HTTP 404`);
    expect(message).toContain(`${garbage.url}: cannot evaluate: `);
    expect(message).toContain(`${socks.url}: FindProxyForURL("http://cvmfs.example.org/") = "SOCKS 127.0.0.1:1080" has no usable proxy ("SOCKS 127.0.0.1:1080": SOCKS proxies are not supported)`);
  });
});
