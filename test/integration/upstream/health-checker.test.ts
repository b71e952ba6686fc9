import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { closeUpstreams, openUpstream } from '../../unit/upstream/harness.js';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { waitFor } from '../../helpers/wait.js';
import type { HealthRow } from '../../../src/upstream/commands.js';

/**
 * The health checker against real forward proxies that are stopped and restarted, in real
 * time (check rates, failover and reset_after on a fake clock: test/unit/upstream/proxy-health.test.ts).
 */

const proxies: ForwardProxy[] = [];
async function proxy(): Promise<ForwardProxy> {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
}

afterEach(async () => {
  await closeUpstreams();
  await closeInProcessAgents();
  await cleanupAgents();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const row = async (agent: { rpc<T>(method: string): Promise<T> }, address: string) => (await agent.rpc<HealthRow[]>('proxy.health')).find((r) => r.proxy === address)!;

describe('health checker', () => {
  it('turns a stopped proxy unhealthy and back healthy with real TCP probes of its socket', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    const u = await openUpstream({ health_check: true, http_proxy: `${p1.url}|${p2.url};DIRECT`, healthy_check_rate: 0.1, unhealthy_check_rate: 0.1 });
    await waitFor('first probe of P2', async () => (await row(u, p2.url)).last_check !== null);
    expect(await row(u, p2.url)).toMatchObject({ state: 'healthy', group: 0 });
    await p2.stop();
    await waitFor('P2 unhealthy', async () => (await row(u, p2.url)).state === 'unhealthy');
    expect((await row(u, p2.url)).last_error).toBe('probe: ECONNREFUSED');
    await p2.restart();
    await waitFor('P2 healthy again', async () => (await row(u, p2.url)).state === 'healthy');
  });

  it('probes health_check_url through the proxy as an absolute-form request, and stops with the agent', async () => {
    const origin = createServer((req, res) => {
      res.writeHead(req.url === '/probe' ? 404 : 500);
      res.end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/probe`;
      const p1 = await proxy();
      const agent = await startInProcessAgent({ config: { proxy: { http_proxy: p1.url, healthy_check_rate: 0.2, health_check_url: url } } });
      await waitFor('three probes through the proxy', () => p1.requests >= 3);
      expect(p1.log[0]).toMatchObject({ method: 'GET', target: url });
      // The origin's 404 means the proxy works.
      expect(await row(agent, p1.url)).toMatchObject({ state: 'healthy' });
      p1.mode = 'bad-gateway';
      await waitFor('P1 unhealthy on 502', async () => (await row(agent, p1.url)).state === 'unhealthy');
      expect((await agent.rpc<HealthRow[]>('proxy.health'))[0]!.last_error).toBe('probe: HTTP 502');
      expect(await agent.stop()).toEqual([]);
    } finally {
      await new Promise<void>((r) => origin.close(() => r()));
    }
  });
});
