import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { waitFor } from '../../helpers/wait.js';
import { DispatcherPool } from '../../../src/upstream/dispatchers.js';
import { ProxyHealthChecker, probeProxyTcp, probeUrl } from '../../../src/upstream/health-checker.js';
import { ProxyList } from '../../../src/upstream/proxy-list.js';
import { buildProxyList } from '../../../src/config/proxy-spec.js';

/** The ProxyHealthChecker loop in-process, against real proxies: probe kinds, failover, stop (no overlapping probes: unit/upstream/proxy-health.test.ts). */

const proxies: ForwardProxy[] = [];
const checkers: ProxyHealthChecker[] = [];
let origin: Server | undefined;
const quiet = { info: () => undefined, warn: () => undefined };
const pool = new DispatcherPool({ proxyMs: 2000, directMs: 2000 });

afterEach(async () => {
  await Promise.all(checkers.splice(0).map((c) => c.stop()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  if (origin) await new Promise<void>((r) => origin!.close(() => r()));
  origin = undefined;
});

async function startOrigin(status: number): Promise<string> {
  origin = createServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((r) => origin!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(origin.address() as AddressInfo).port}/probe`;
}

describe('health probes', () => {
  it("count every answer about the origin through the proxy as healthy (2xx, 3xx, 404, its 500, squid's ERR_CONNECT_FAIL), the proxy's bare 502 and a refused connection as not", async () => {
    const p = await ForwardProxy.start();
    proxies.push(p);
    for (const [status, ok] of [[200, true], [302, true], [404, true], [500, true]] as const) {
      const url = await startOrigin(status);
      expect({ status, ok: (await probeUrl(pool.probe(p.url), url, 2000)).ok }).toEqual({ status, ok });
      await new Promise<void>((r) => origin!.close(() => r()));
      origin = undefined;
    }
    const url = await startOrigin(200);
    p.mode = 'squid-error';
    expect(await probeUrl(pool.probe(p.url), url, 2000)).toMatchObject({ ok: true });
    p.mode = 'bad-gateway';
    expect(await probeUrl(pool.probe(p.url), url, 2000)).toMatchObject({ ok: false, error: 'HTTP 502' });
    await p.stop();
    // The member's pool may still hold the connection the proxy just closed: that fails first.
    expect(await probeUrl(pool.probe(p.url), url, 2000)).toMatchObject({ ok: false, error: expect.stringMatching(/^(ECONNREFUSED|UND_ERR_SOCKET)$/) });
    expect(await probeUrl(pool.probe(p.url), url, 2000)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(await probeProxyTcp(p.url, 2000)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  });

  it('switch to the next group with a healthy member when the whole active group is down', async () => {
    const [a, b] = [await ForwardProxy.start(), await ForwardProxy.start()];
    proxies.push(a, b);
    await a.stop();
    const switches: string[] = [];
    const list = new ProxyList(buildProxyList(`${a.url};${b.url}`, ''), { minHealthy: 1, onSwitch: (e) => switches.push(`${e.from}→${e.to}: ${e.reason}`) });
    const checker = new ProxyHealthChecker(list, pool, { healthyIntervalMs: 50, unhealthyIntervalMs: 50, timeoutMs: 1000, url: null, resetAfterMs: 60_000 }, quiet);
    checkers.push(checker);
    checker.start();
    await waitFor('the switch', () => list.activeGroupIndex === 1);
    expect(switches).toEqual([`0→1: every member of group 0 unhealthy (${a.url}: probe ECONNREFUSED)`]);
    await checker.stop();
    expect(checker.running).toBe(false);
  });
});

describe('stopping the health checker', () => {
  it('aborts a hanging probe at once instead of waiting for its timeout, and records no verdict', async () => {
    const p = await ForwardProxy.start({ mode: 'hang' });
    proxies.push(p);
    const url = await startOrigin(200);
    const list = new ProxyList(buildProxyList(p.url, ''), { minHealthy: 1 });
    const checker = new ProxyHealthChecker(list, pool, { healthyIntervalMs: 1000, unhealthyIntervalMs: 1000, timeoutMs: 60_000, url, resetAfterMs: 60_000 }, quiet);
    checker.start();
    await waitFor('the probe reached the proxy', () => p.requests === 1);
    // With the 60 s probe timeout, only the abort can let stop() settle within the test's time.
    await checker.stop();
    const proxy = [...list.proxies()][0]!;
    expect(proxy.lastCheck).toBeNull();
    expect(proxy.healthy).toBe(true);
  }, 20_000);
});
