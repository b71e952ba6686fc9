import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { cleanupTinyproxies, hasTinyproxy, startTinyproxy } from '../../helpers/tinyproxy.js';
import { add, sha256File, waitJob } from './helpers.js';

const PART = 64 * 1024;
const proxies: ForwardProxy[] = [];
const forwardProxy = async (): Promise<ForwardProxy> => {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
};
const config = (httpProxy: string) => ({ downloads: { part_size: PART }, proxy: { http_proxy: httpProxy, health_check: false } });

afterEach(async () => {
  await cleanupAgents();
  await closeOrigins();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await cleanupTinyproxies();
});

describe('downloads through the proxy list', () => {
  it('fetch through a forward proxy with absolute-form requests', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('a.bin', 1024 * 1024);
    const fp = await forwardProxy();
    const agent = await startAgent({ config: config(fp.url) });
    const id = await add(agent, { url: origin.url('a.bin'), sha256: f.sha256 });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', proxy: fp.url });
    expect(sha256File(join(agent.stateDir, 'downloads', 'a.bin'))).toBe(f.sha256);
    expect(fp.log.map((r) => [r.method, r.target])).toEqual([['GET', origin.url('a.bin')]]);
    expect(fp.connects).toBe(0);
  });

  it.skipIf(!hasTinyproxy())('fetch through tinyproxy', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('t.bin', 1024 * 1024);
    const tp = await startTinyproxy();
    const agent = await startAgent({ config: config(tp.url) });
    const id = await add(agent, { url: origin.url('t.bin'), sha256: f.sha256 });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', proxy: tp.url });
    expect(sha256File(join(agent.stateDir, 'downloads', 't.bin'))).toBe(f.sha256);
    // tinyproxy marks what it forwards.
    expect(origin.requests.filter((r) => r.path === '/t.bin').every((r) => String(r.headers.via ?? '').includes('tinyproxy'))).toBe(true);
  });

  it('a proxy killed mid-file: the job continues at the same offset through the next proxy', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('k.bin', 2 * 1024 * 1024);
    origin.switches.throttleBps = 1024 * 1024;
    const [a, b] = [await forwardProxy(), await forwardProxy()];
    const agent = await startAgent({ config: config(`${a.url}|${b.url}`) });
    const id = await add(agent, { url: origin.url('k.bin'), sha256: f.sha256 });
    const during = await waitJob(agent, id, (j) => j.bytes >= 512 * 1024);
    const [dead, next] = during.proxy === a.url ? [a, b] : [b, a];
    expect(during.proxy).toBe(dead.url);
    await dead.stop();
    origin.switches.throttleBps = 0;
    const j = await waitJob(agent, id);
    expect(j).toMatchObject({ state: 'done', proxy: next.url });
    expect(sha256File(join(agent.stateDir, 'downloads', 'k.bin'))).toBe(f.sha256);
    // One request through each proxy; the second continues where the first stopped.
    const ranged = next.log.filter((r) => r.method === 'GET');
    expect(ranged).toHaveLength(1);
    const start = Number(/^bytes=(\d+)-$/.exec(String(ranged[0]!.headers.range))?.[1]);
    expect(start).toBeGreaterThanOrEqual(512 * 1024);
    // Nothing held is fetched twice: only bytes in flight inside the dead proxy are lost.
    expect(origin.bytesServed()).toBeLessThanOrEqual(f.data.length + 128 * 1024);
    const stats = await agent.rpc<{ downloads: { proxy_failovers: number } }>('agent.stats', {});
    expect(stats.downloads.proxy_failovers).toBeGreaterThanOrEqual(1);
  });

  it('fetches https through a forward proxy with CONNECT, resuming inside a new tunnel', async () => {
    const origin = await startOrigin({ tls: true });
    const f = origin.addFile('s.bin', 1024 * 1024);
    origin.switches.dropAtByte = 400_000;
    const fp = await forwardProxy();
    const agent = await startAgent({ config: config(fp.url), env: { NODE_EXTRA_CA_CERTS: origin.caPath! } });
    const id = await add(agent, { url: origin.url('s.bin'), sha256: f.sha256 });
    const j = await waitJob(agent, id);
    expect(j, JSON.stringify(j)).toMatchObject({ state: 'done', proxy: fp.url });
    expect(sha256File(join(agent.stateDir, 'downloads', 's.bin'))).toBe(f.sha256);
    expect(fp.requests).toBe(0);
    expect(fp.connects).toBeGreaterThanOrEqual(2);
    expect(fp.log.filter((r) => r.method === 'CONNECT').every((r) => r.target === `127.0.0.1:${origin.port}`)).toBe(true);
    expect(origin.rangeStarts('s.bin')).toEqual([400_000]);
  });

  it('a proxy answering 502 is failed over to DIRECT in the next group', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('g.bin', 300 * 1024);
    const bad = await forwardProxy();
    bad.mode = 'bad-gateway';
    const agent = await startAgent({ config: config(`${bad.url};DIRECT`) });
    const id = await add(agent, { url: origin.url('g.bin'), sha256: f.sha256 });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', proxy: null });
    expect(bad.requests).toBeGreaterThanOrEqual(1);
  });

  it('fails with "no proxy left" once every proxy keeps failing beyond downloads.max_retries', async () => {
    const origin = await startOrigin();
    origin.addFile('n.bin', 1000);
    const dead = await forwardProxy();
    await dead.stop();
    const agent = await startAgent({ config: { downloads: { part_size: PART, max_retries: 1 }, proxy: { http_proxy: dead.url, health_check: false } } });
    const id = await add(agent, { url: origin.url('n.bin') });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no proxy left after 1 retries/);
    expect(origin.requests).toHaveLength(0);
  });
});
