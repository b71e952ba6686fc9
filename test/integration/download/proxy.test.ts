import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { cleanupNginx, hasNginx, startNginx } from '../../helpers/nginx.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { cleanupSquids, hasSquid, startSquid } from '../../helpers/squid.js';
import { cleanupTinyproxies, hasTinyproxy, startTinyproxy } from '../../helpers/tinyproxy.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';
import { waitFor } from '../../helpers/wait.js';

/** Downloads through the upstream proxy list: real forward proxies (tinyproxy, squid) and the node one that fails on demand. */

const PART = 64 * 1024;
const proxies: ForwardProxy[] = [];
const forwardProxy = async (): Promise<ForwardProxy> => {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
};
const config = (httpProxy: string, extra: { downloads?: Record<string, unknown>; proxy?: Record<string, unknown> } = {}) => ({
  downloads: { part_size: PART, ...extra.downloads },
  proxy: { http_proxy: httpProxy, health_check: false, backoff_init: 0.05, backoff_max: 0.1, ...extra.proxy },
});

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
  await cleanupNginx();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await cleanupTinyproxies();
  await cleanupSquids();
});

describe('downloads through the proxy list', () => {
  it('fetch through a forward proxy with absolute-form requests', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('a.bin', 1024 * 1024);
    const fp = await forwardProxy();
    const h = await startHarness(config(fp.url));
    const id = await h.add({ url: origin.url('a.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', proxy: fp.url });
    expect(sha256File(join(h.dir, 'a.bin'))).toBe(f.sha256);
    expect(fp.log.map((r) => [r.method, r.target])).toEqual([['GET', origin.url('a.bin')]]);
    expect(fp.connects).toBe(0);
  });

  it.skipIf(!hasTinyproxy())('fetch through tinyproxy', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('t.bin', 1024 * 1024);
    const tp = await startTinyproxy();
    const h = await startHarness(config(tp.url));
    const id = await h.add({ url: origin.url('t.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', proxy: tp.url });
    expect(sha256File(join(h.dir, 't.bin'))).toBe(f.sha256);
    expect(origin.requests.filter((r) => r.path === '/t.bin').every((r) => String(r.headers.via ?? '').includes('tinyproxy'))).toBe(true);
  });

  it('a proxy killed mid-file: the job continues at the same offset through the next proxy', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('k.bin', 2 * 1024 * 1024);
    origin.switches.throttleBps = 1024 * 1024;
    const [a, b] = [await forwardProxy(), await forwardProxy()];
    const h = await startHarness(config(`${a.url}|${b.url}`));
    const id = await h.add({ url: origin.url('k.bin'), sha256: f.sha256 });
    const during = await h.wait(id, (j) => j.bytes >= 512 * 1024);
    const [dead, next] = during.proxy === a.url ? [a, b] : [b, a];
    await dead.stop();
    // Full speed only once the origin has seen the dead proxy's request end: before that, the
    // origin would pour megabytes into a connection nobody reads any more (a race under load).
    const first = origin.requests.find((r) => r.path === '/k.bin')!;
    await waitFor('the origin to see the dead proxy go', () => first.closed);
    origin.switches.throttleBps = 0;
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'done', proxy: next.url });
    expect(sha256File(join(h.dir, 'k.bin'))).toBe(f.sha256);
    const ranged = next.log.filter((r) => r.method === 'GET');
    expect(ranged).toHaveLength(1);
    expect(Number(/^bytes=(\d+)-$/.exec(String(ranged[0]!.headers.range))?.[1])).toBeGreaterThanOrEqual(512 * 1024);
    // Nothing held is fetched twice: only bytes in flight inside the dead proxy are lost.
    expect(origin.bytesServed()).toBeLessThanOrEqual(f.data.length + 128 * 1024);
    expect((h.stats.snapshot() as { downloads: { proxy_failovers: number } }).downloads.proxy_failovers).toBeGreaterThanOrEqual(1);
  });

  it('fetches https through a forward proxy with CONNECT, trusting the origin through --ca-file, resuming inside a new tunnel', async () => {
    const origin = await startOrigin({ tls: true });
    const f = origin.addFile('s.bin', 1024 * 1024);
    origin.switches.dropAtByte = 400_000;
    const fp = await forwardProxy();
    const h = await startHarness(config(fp.url));
    const id = await h.add({ url: origin.url('s.bin'), sha256: f.sha256, ca_file: origin.caPath! });
    const j = await h.wait(id);
    expect(j, JSON.stringify(j)).toMatchObject({ state: 'done', proxy: fp.url, ca_file: origin.caPath });
    expect(sha256File(join(h.dir, 's.bin'))).toBe(f.sha256);
    expect(fp.requests).toBe(0);
    expect(fp.connects).toBeGreaterThanOrEqual(2);
    expect(fp.log.filter((r) => r.method === 'CONNECT').every((r) => r.target === `127.0.0.1:${origin.port}`)).toBe(true);
    expect(origin.rangeStarts('s.bin')).toHaveLength(1);
  });

  it('a proxy answering 502 is failed over to DIRECT in the next group', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('g.bin', 300 * 1024);
    const bad = await forwardProxy();
    bad.mode = 'bad-gateway';
    const h = await startHarness(config(`${bad.url};DIRECT`));
    const id = await h.add({ url: origin.url('g.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', proxy: 'DIRECT' });
    expect(bad.requests).toBeGreaterThanOrEqual(1);
  });

  it('fails with "no proxy left" once every proxy keeps failing beyond downloads.max_retries', async () => {
    const origin = await startOrigin();
    origin.addFile('n.bin', 1000);
    const dead = await forwardProxy();
    await dead.stop();
    const h = await startHarness(config(dead.url, { downloads: { max_retries: 1 } }));
    const id = await h.add({ url: origin.url('n.bin') });
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/no proxy left after 1 retries/);
    expect(origin.requests).toHaveLength(0);
  });

  it.skipIf(!hasSquid())('squid in front of a dead origin stays healthy: the host is blamed, retried, then given up', async () => {
    const origin = await startOrigin();
    const deadUrl = origin.url('gone.bin');
    await origin.close();
    const squid = await startSquid();
    const h = await startHarness(config(`${squid.url};DIRECT`, { downloads: { max_retries: 1 } }));
    const id = await h.add({ url: deadUrl });
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'failed', attempts: 2, proxy: squid.url });
    expect(j.error).toMatch(/gave up after 1 retries: HTTP 503 \(ERR_CONNECT_FAIL\) from 127\.0\.0\.1:\d+ via http:\/\/127\.0\.0\.1:\d+/);
    const health = await h.rpc('proxy.health', {});
    expect(health.find((r) => r.proxy === squid.url)).toMatchObject({ state: 'healthy', failures: 0, active: true });
    expect((await h.rpc('proxy.info', {})).active_group).toBe(0);
  });

  it.skipIf(!hasSquid() || !hasNginx())('through squid, a dead mirror is skipped and the live one delivers the file', async () => {
    const n = await startNginx();
    const f = n.addFile('m.bin', 1024 * 1024);
    const origin = await startOrigin();
    const deadUrl = origin.url('m.bin');
    await origin.close();
    const squid = await startSquid();
    const h = await startHarness(config(squid.url));
    const id = await h.add({ urls: [deadUrl, n.url('m.bin')], sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done' });
    expect(j.sources[0]).toMatchObject({ state: 'skipped', bytes: 0, errors: 1, last_error: expect.stringMatching(/ERR_CONNECT_FAIL/) });
    expect(j.sources[1]).toMatchObject({ state: 'usable', bytes: f.data.length, errors: 0 });
    expect((await h.rpc('proxy.health', {}))[0]).toMatchObject({ state: 'healthy', failures: 0 });
  });

  it.skipIf(!hasTinyproxy() || !hasNginx())('spreads the connections of a job over the members of the group (default policy), all to one under sharding', async () => {
    const n = await startNginx({ limitRate: 2 * 1024 * 1024 });
    const f = n.addFile('s.bin', 2 * 1024 * 1024);
    const [t1, t2] = [await startTinyproxy(), await startTinyproxy()];
    const spread = await startHarness(config(`${t1.url}|${t2.url}`, { downloads: { connections: 4 } }));
    const id = await spread.add({ url: n.url('limited/s.bin'), sha256: f.sha256 });
    expect((await spread.wait(id)).state).toBe('done');
    expect(spread.logs().filter((l) => l.blame !== undefined)).toEqual([]);
    const through = (t: { log(): string }) => (t.log().match(/Request \(file descriptor/g) ?? []).length;
    expect(through(t1)).toBeGreaterThan(0);
    expect(through(t2)).toBeGreaterThan(0);
    await spread.close();

    const [before1, before2] = [through(t1), through(t2)];
    const sharded = await startHarness(config(`${t1.url}|${t2.url}`, { downloads: { connections: 4 }, proxy: { policy: 'sharding' } }));
    const id2 = await sharded.add({ url: n.url('limited/s.bin'), sha256: f.sha256, dest: 'again.bin' });
    expect((await sharded.wait(id2)).state).toBe('done');
    expect(sharded.logs().filter((l) => l.blame !== undefined)).toEqual([]);
    expect([through(t1) - before1, through(t2) - before2].filter((x) => x > 0)).toHaveLength(1);
  });
});
