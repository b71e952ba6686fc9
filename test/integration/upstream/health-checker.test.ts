import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { waitFor } from '../../helpers/wait.js';
import type { HealthRow, ProxyInfo } from '../../../src/upstream/commands.js';

/** The health checker in a real agent against real forward proxies that are stopped and restarted. */

const proxies: ForwardProxy[] = [];
async function proxy(): Promise<ForwardProxy> {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
}

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const row = async (agent: InProcessAgent, address: string) => (await agent.rpc<HealthRow[]>('proxy.health')).find((r) => r.proxy === address)!;

describe('health checker', () => {
  it('marks a stopped proxy unhealthy within 2 × healthy_check_rate and healthy within 2 × unhealthy_check_rate after it returns', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    const healthyRate = 2;
    const unhealthyRate = 1;
    const agent = await startInProcessAgent({ config: { proxy: { http_proxy: `${p1.url}|${p2.url};DIRECT`, healthy_check_rate: healthyRate, unhealthy_check_rate: unhealthyRate } } });
    // First probes run at start.
    await waitFor('first probe of P2', async () => (await row(agent, p2.url)).last_check !== null);
    expect(await row(agent, p2.url)).toMatchObject({ state: 'healthy', group: 0 });
    expect((await row(agent, p2.url)).latency_ms).toBeTypeOf('number');

    await p2.stop();
    await waitFor('P2 unhealthy', async () => (await row(agent, p2.url)).state === 'unhealthy', { timeoutMs: 2 * healthyRate * 1000, intervalMs: 50 });
    // One member left: the group stays active.
    const info = await agent.rpc<ProxyInfo>('proxy.info');
    expect(info.active_group).toBe(0);
    expect(info.active_proxy).toBe(p1.url);

    await p2.restart();
    await waitFor('P2 healthy again', async () => (await row(agent, p2.url)).state === 'healthy', { timeoutMs: 2 * unhealthyRate * 1000, intervalMs: 50 });
    const stats = await agent.rpc<{ upstream: { proxies: Record<string, { health_transitions: number }> } }>('agent.stats');
    expect(stats.upstream.proxies[p2.url]!.health_transitions).toBe(2);
  });

  it('switches group when all of group 0 dies, logs why, and goes back after reset_after once group 0 answers', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    const agent = await startInProcessAgent({ config: { proxy: { http_proxy: `${p1.url};${p2.url}`, healthy_check_rate: 1, unhealthy_check_rate: 0.5, reset_after: 2 } } });
    await waitFor('first probe of P1', async () => (await row(agent, p1.url)).last_check !== null);
    const r0 = (await agent.rpc<ProxyInfo>('proxy.info')).revision;

    await p1.stop();
    await waitFor('switch to group 1', async () => (await agent.rpc<ProxyInfo>('proxy.info')).active_group === 1, { timeoutMs: 5000, intervalMs: 50 });
    const after = await agent.rpc<ProxyInfo>('proxy.info');
    expect(after.revision).toBeGreaterThan(r0);
    expect(after.active_proxy).toBe(p2.url);
    await waitFor('the switch log line', () => agent.stderr().includes(`proxy switch: group 0 → 1 (every member of group 0 unhealthy (${p1.url}: probe ECONNREFUSED))`));

    // Group 0 still down when reset_after passes: the list stays on group 1.
    await waitFor('reset_after passes with group 0 down', () => agent.stderr().includes('but group 0 is still down'), { timeoutMs: 8000 });
    expect((await agent.rpc<ProxyInfo>('proxy.info')).active_group).toBe(1);

    await p1.restart();
    await waitFor('back to group 0', async () => (await agent.rpc<ProxyInfo>('proxy.info')).active_group === 0, { timeoutMs: 8000, intervalMs: 50 });
    expect(agent.stderr()).toContain('proxy switch: group 1 → 0 (reset_after 2 s elapsed on group 1; group 0 answers again)');
    const stats = await agent.rpc<{ upstream: { group_switches: number } }>('agent.stats');
    expect(stats.upstream.group_switches).toBe(2);
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
