import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { cleanupTinyproxies, hasTinyproxy, startTinyproxy } from '../../helpers/tinyproxy.js';
import type { ProxyJob, ProxyRouter } from '../../../src/upstream/api.js';
import { DispatcherPool } from '../../../src/upstream/dispatchers.js';
import { defaultPolicy } from '../../../src/upstream/policies.js';
import { ProxyList, type SwitchEvent } from '../../../src/upstream/proxy-list.js';
import { buildProxyList } from '../../../src/config/proxy-spec.js';
import { UpstreamRouter } from '../../../src/upstream/router.js';

/**
 * The router against real sockets: a fetch loop shaped like the download
 * manager's (attempt → request → report, the router judges), through real forward
 * proxies that refuse, answer 502 or reset, and through Debian's tinyproxy.
 */

let origin: Server;
let base = '';
const proxies: ForwardProxy[] = [];
const pools: DispatcherPool[] = [];

beforeEach(async () => {
  origin = createServer((req, res) => {
    if (req.url === '/missing') {
      res.writeHead(404);
      return void res.end('no such file\n');
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello ${req.url}\n`);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await cleanupTinyproxies();
  await new Promise<void>((r) => origin.close(() => r()));
});

async function proxy(): Promise<ForwardProxy> {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
}

function setup(spec: string) {
  const switches: SwitchEvent[] = [];
  const list = new ProxyList(buildProxyList(spec, ''), { minHealthy: 1, onSwitch: (e) => switches.push(e) });
  const pool = new DispatcherPool({ proxyMs: 2000, directMs: 2000 });
  pools.push(pool);
  const router = new UpstreamRouter(list, pool, { timeoutMs: 2000, timeoutDirectMs: 2000, lowSpeedLimit: 1024, backoffInitMs: 10, backoffMaxMs: 20, slowRetries: 2, resetAfterMs: 60_000, optimisticReset: false }, defaultPolicy());
  return { list, router, switches };
}

interface Outcome {
  status: number | null;
  body: string;
  via: Array<string | null>;
  blames: string[];
  reason: string | null;
}

/** What the download manager does per request, minus the queue and the disk. */
async function fetchJob(router: ProxyRouter, job: ProxyJob): Promise<Outcome> {
  const out: Outcome = { status: null, body: '', via: [], blames: [], reason: null };
  const url = job.sources[0]!;
  for (let i = 0; i < 10; i++) {
    const a = router.attempt(job, url, 0);
    out.via.push(a.proxy);
    try {
      const res = await request(url, { dispatcher: a.dispatcher, headersTimeout: a.timeoutMs });
      const body = await res.body.text();
      if (res.statusCode < 400) {
        router.reportSuccess(job, a);
        return { ...out, status: res.statusCode, body };
      }
      const d = router.reportFailure(job, a, { status: res.statusCode, headers: res.headers, bytes: 0 });
      out.blames.push(d.blame);
      if (d.action !== 'retry') return { ...out, status: res.statusCode, reason: d.reason };
    } catch (err) {
      const d = router.reportFailure(job, a, { error: err as Error, bytes: 0 });
      out.blames.push(d.blame);
      if (d.action !== 'retry') return { ...out, reason: d.reason };
    }
  }
  throw new Error('no decision after 10 attempts');
}

const job = (url: string): ProxyJob => ({ key: url, sources: [url], maxRetries: 0, caFile: null, plan: null });

describe('router over real sockets', () => {
  it('fails over from a 502-answering and a stopped proxy to the next group, blaming only them', async () => {
    const [bad, dead, good] = [await proxy(), await proxy(), await proxy()];
    bad.mode = 'bad-gateway';
    await dead.stop();
    const { list, router, switches } = setup(`${bad.url}|${dead.url};${good.url}`);
    const r = await fetchJob(router, job(`${base}/file`));
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello /file\n');
    expect(r.blames).toEqual(['proxy', 'proxy']);
    expect(r.via.slice(-1)).toEqual([good.url]);
    expect(list.activeGroupIndex).toBe(1);
    expect(switches).toHaveLength(1);
    expect(switches[0]!.reason).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+: (ECONNREFUSED|HTTP 502) while fetching ${base}/file$`));
    const byAddress = new Map([...list.proxies()].map((p) => [p.address, p]));
    expect(byAddress.get(bad.url)!.healthy).toBe(false);
    expect(byAddress.get(dead.url)!.healthy).toBe(false);
    expect(byAddress.get(good.url)!.metrics.requests.value).toBe(1);
  });

  it('does not blame a working proxy for the origin\'s 404', async () => {
    const p = await proxy();
    const { list, router } = setup(`${p.url};DIRECT`);
    const r = await fetchJob(router, job(`${base}/missing`));
    expect(r.status).toBe(404);
    expect(r.blames).toEqual(['host']);
    expect(r.reason).toMatch(/^HTTP 404 from 127\.0\.0\.1:\d+ via http/);
    expect([...list.proxies()][0]!.healthy).toBe(true);
    expect(list.activeGroupIndex).toBe(0);
  });

  it('treats a connection reset by the proxy as a proxy error', async () => {
    const [resetting, good] = [await proxy(), await proxy()];
    resetting.mode = 'reset';
    const { router } = setup(`${resetting.url};${good.url}`);
    const r = await fetchJob(router, job(`${base}/r`));
    expect(r.blames).toEqual(['proxy']);
    expect(r.status).toBe(200);
  });

  it('applies a proxy set at the next request of a running job', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    const { list, router } = setup(p1.url);
    const j = job(`${base}/a`);
    expect((await fetchJob(router, j)).via).toEqual([p1.url]);
    list.set(buildProxyList(p2.url, ''));
    expect((await fetchJob(router, j)).via).toEqual([p2.url]);
    expect(p2.requests).toBe(1);
  });

  it('fails a job once every proxy failed, with the last error in the reason', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    await p1.stop();
    await p2.stop();
    const { router } = setup(`${p1.url};${p2.url}`);
    const r = await fetchJob(router, job(`${base}/x`));
    expect(r.blames).toEqual(['proxy', 'proxy']);
    expect(r.reason).toMatch(/no proxy left after 0 retries: every upstream proxy failed for this job; last http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});

describe.skipIf(!hasTinyproxy())('router through tinyproxy (Debian)', () => {
  it('fetches through tinyproxy, and an origin 404 through it is a host error', async () => {
    const tp = await startTinyproxy();
    const { list, router } = setup(`${tp.url};DIRECT`);
    const ok = await fetchJob(router, job(`${base}/via-tinyproxy`));
    expect(ok).toMatchObject({ status: 200, body: 'hello /via-tinyproxy\n', via: [tp.url] });
    const missing = await fetchJob(router, job(`${base}/missing`));
    expect(missing.blames).toEqual(['host']);
    expect(list.activeGroupIndex).toBe(0);
    expect(tp.log()).toContain('/via-tinyproxy');
  });

  it('fails over to DIRECT when tinyproxy is gone', async () => {
    const tp = await startTinyproxy();
    const { list, router } = setup(`${tp.url};DIRECT`);
    await tp.stop();
    const r = await fetchJob(router, job(`${base}/after`));
    expect(r).toMatchObject({ status: 200, blames: ['proxy'], via: [tp.url, null] });
    expect(list.activeGroupIndex).toBe(1);
  });
});
