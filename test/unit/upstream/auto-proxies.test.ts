import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';
import { closeUpstreams, openUpstream, type Upstream } from './harness.js';
import { closePacOrigins, pacAnswering, startPacOrigin } from './pac-origin.js';

/** `auto` in the proxy string: proxies discovered from PAC files, as cvmfs (CVMFS_PAC_URLS). */

afterEach(async () => {
  await closeUpstreams();
  await closePacOrigins();
  await cleanupAgents();
});

// Members that resolve without DNS: the address lookups of proxy info stay local.
const noDns = { lookup: async () => ['192.0.2.1'] };
const info = (u: Upstream) => u.rpc<ProxyInfo>('proxy.info');

describe('proxy set auto', () => {
  it('replaces the groups with the PAC answer, and proxy info shows where they came from', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128; PROXY 127.0.0.1:3129; DIRECT'));
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9', pac_urls: [origin.url], pac_query_url: 'http://cvmfs.example.org/' }, noDns);
    expect(await u.talk('proxy set auto')).toBe('OK\n');
    const i = await info(u);
    expect(i.spec).toBe('http://127.0.0.1:3128;http://127.0.0.1:3129;DIRECT');
    expect(i.groups.map((g) => g.pac)).toEqual([true, true, true]);
    expect(i.pac).toMatchObject({ urls: [origin.url], query_url: 'http://cvmfs.example.org/', source: origin.url, result: 'PROXY 127.0.0.1:3128; PROXY 127.0.0.1:3129; DIRECT', resolved: 'http://127.0.0.1:3128;http://127.0.0.1:3129;DIRECT', error: null });
    const text = await u.talk('proxy info');
    expect(text).toContain('[0] http://127.0.0.1:3128 (unknown, 127.0.0.1)  (auto)\n');
    expect(text).toContain(`Auto proxies: http://127.0.0.1:3128;http://127.0.0.1:3129;DIRECT from ${origin.url} (FindProxyForURL("http://cvmfs.example.org/") = "PROXY 127.0.0.1:3128; PROXY 127.0.0.1:3129; DIRECT", at `);
  });

  it('keeps the written groups around auto, and drops a DIRECT the string already has', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128; DIRECT'));
    const u = await openUpstream({ pac_urls: [origin.url] }, noDns);
    expect(await u.talk('proxy set http://127.0.0.1:9;auto;DIRECT')).toBe('OK\n');
    const i = await info(u);
    expect(i.spec).toBe('http://127.0.0.1:9;http://127.0.0.1:3128;DIRECT');
    expect(i.groups.map((g) => g.pac)).toEqual([false, true, false]);
  });

  it('is refused with a clear error when no PAC file answers, and the running list stays', async () => {
    const origin = await startPacOrigin('');
    origin.status = 404;
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9;DIRECT', pac_urls: [origin.url] }, noDns);
    const before = await info(u);
    expect(await u.talk('proxy set auto')).toBe(`error: proxy set auto: refused, the running list stays: auto: no PAC file answered: ${origin.url}: cannot fetch: HTTP 404\n`);
    const after = await info(u);
    expect(after.spec).toBe('http://127.0.0.1:9;DIRECT');
    expect(after.revision).toBe(before.revision);
    expect(after.pac).toBeNull();
    await expect(u.rpc('proxy.set', { spec: 'auto' })).rejects.toMatchObject({ code: 'PXC_ERR_PAC' });
  });
});

describe('the auto groups', () => {
  it('follow the PAC file on proxy rebalance, and keep their members when it breaks', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128'));
    const u = await openUpstream({ http_proxy: 'auto;DIRECT', pac_urls: [origin.url] }, noDns);
    expect((await info(u)).spec).toBe('http://127.0.0.1:3128;DIRECT');

    origin.body = pacAnswering('PROXY 127.0.0.1:3130; PROXY 127.0.0.1:3131');
    expect(await u.talk('proxy rebalance')).toBe('OK\n');
    expect((await info(u)).spec).toBe('http://127.0.0.1:3130;http://127.0.0.1:3131;DIRECT');

    origin.body = 'function FindProxyForURL(url, host) { return undefinedThing(); }';
    const reply = await u.talk('proxy rebalance');
    expect(reply).toMatch(new RegExp(`^error: proxy rebalance: marks cleared, but auto: no PAC file answered: ${origin.url.replace(/[.]/g, '\\.')}: cannot evaluate: .*undefinedThing.*; auto keeps the 2 group\\(s\\) from ${origin.url.replace(/[.]/g, '\\.')}\\n$`));
    const i = await info(u);
    expect(i.spec).toBe('http://127.0.0.1:3130;http://127.0.0.1:3131;DIRECT');
    expect(i.pac?.error).toMatch(/cannot evaluate/);
    expect(await u.talk('proxy info')).toMatch(/\nAuto error: auto: no PAC file answered: .*cannot evaluate/);
  });

  it('are refreshed on the proxy.pac_refresh timer', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128'));
    const u = await openUpstream({ http_proxy: 'auto', pac_urls: [origin.url], pac_refresh: 0.05 }, noDns);
    expect((await info(u)).spec).toBe('http://127.0.0.1:3128');
    origin.body = pacAnswering('PROXY 127.0.0.1:3140');
    await waitFor('the timer to pick up the new PAC answer', async () => (await info(u)).spec === 'http://127.0.0.1:3140');
  });

  it('are DIRECT when the PAC never answered and nothing else is written, as cvmfs', async () => {
    const u = await openUpstream({ http_proxy: 'auto', pac_urls: ['http://127.0.0.1:1/wpad.dat'] }, noDns);
    const i = await info(u);
    expect(i.spec).toBe('DIRECT');
    expect(i.pac).toMatchObject({ source: null, resolved: null, error: expect.stringContaining('http://127.0.0.1:1/wpad.dat: cannot fetch: ECONNREFUSED') });
    expect(await u.talk('proxy info')).toContain('Auto proxies: none yet (PAC files: http://127.0.0.1:1/wpad.dat)\n');
  });

  it('survive a restart while the PAC file is away (the last answer is kept in the state DB)', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:3128; DIRECT'));
    const dir = tempDir();
    const config = { http_proxy: 'auto', pac_urls: [origin.url] };
    const u = await openUpstream(config, noDns, dir);
    expect((await info(u)).spec).toBe('http://127.0.0.1:3128;DIRECT');
    await origin.close();
    const again = await u.restart();
    const i = await info(again);
    expect(i.spec).toBe('http://127.0.0.1:3128;DIRECT');
    expect(i.pac?.error).toContain('cannot fetch');
  });
});

describe('the PAC default', () => {
  it('is http://wpad/wpad.dat, as cvmfs, and a PAC URL must be http or https (the config path named)', () => {
    expect(parseConfig({}).proxy.pac_urls).toEqual(['http://wpad/wpad.dat']);
    expect(() => parseConfig({ proxy: { pac_urls: ['http://wpad/wpad.dat', 'file:///etc/wpad.dat'] } })).toThrow('proxy.pac_urls[1]: a PAC URL must be http:// or https://');
    expect(() => parseConfig({ proxy: { http_proxy: 'auto|http://a:3128' } })).toThrow(/proxy\.http_proxy: .*auto is a group of its own/);
  });
});
