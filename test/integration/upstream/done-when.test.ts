import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { ForwardProxy } from '../../helpers/forward-proxy.js';
import { cleanupTinyproxies, hasTinyproxy, startTinyproxy } from '../../helpers/tinyproxy.js';
import { waitFor } from '../../helpers/wait.js';
import type { HealthRow, ProxyInfo } from '../../../src/upstream/commands.js';

/** Issue 4's "Done when", step by step, through the built CLI and a raw socat talk line. */

const proxies: ForwardProxy[] = [];
afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await cleanupTinyproxies();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

describe('issue 4: done when', () => {
  it('two forward proxies, proxy set, a stopped proxy seen unhealthy, and talk over socat', async () => {
    const p1 = await ForwardProxy.start();
    const p2 = await ForwardProxy.start();
    proxies.push(p1, p2);
    // Probes every 0.1 s: the stopped proxy is seen at once (the check rates themselves: unit/upstream/proxy-health.test.ts).
    const agent = await startInProcessAgent({ config: { proxy: { http_proxy: `http://127.0.0.1:${p1.port}|http://127.0.0.1:${p2.port};DIRECT`, healthy_check_rate: 0.1, unhealthy_check_rate: 0.1 } } });

    const before = await agent.cli(['proxy', 'info', '--json']);
    expect(before.code).toBe(0);
    const info = JSON.parse(before.stdout) as ProxyInfo;
    expect(info.groups).toHaveLength(2);
    expect(info.groups.map((g) => g.proxies.map((p) => p.address))).toEqual([[p1.url, p2.url], ['DIRECT']]);
    const r = info.revision;

    const set = await agent.cli(['proxy', 'set', `http://127.0.0.1:${p2.port};DIRECT`]);
    expect(set).toMatchObject({ code: 0, stdout: expect.stringMatching(/^proxy groups: /) });
    const afterSet = JSON.parse((await agent.cli(['proxy', 'info', '--json'])).stdout) as ProxyInfo;
    expect(afterSet.revision).toBeGreaterThan(r);
    expect(afterSet.active_group).toBe(0);
    expect(afterSet.active_proxy).toBe(p2.url);
    expect((await agent.cli(['proxy', 'info'])).stdout).toContain(`Active proxy: [0] ${p2.url}\n`);

    await waitFor('a first probe of P2', async () => (await agent.rpc<HealthRow[]>('proxy.health'))[0]!.last_check !== null);
    await p2.stop();
    await waitFor('P2 unhealthy', async () => (await agent.rpc<HealthRow[]>('proxy.health')).find((x) => x.proxy === p2.url)?.state === 'unhealthy');
    const health = await agent.cli(['proxy', 'health', '--json']);
    expect(health.code).toBe(0);
    expect((JSON.parse(health.stdout) as HealthRow[]).find((x) => x.proxy === p2.url)).toMatchObject({ state: 'unhealthy', group: 0 });

    const socat = spawn('socat', ['-', `UNIX-CONNECT:${agent.socket}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    socat.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    socat.stdin.end('proxy info\n');
    expect(await new Promise((r) => socat.once('exit', r))).toBe(0);
    expect(stdout).toMatch(/^Load-balance groups:\n\[0\] http:\/\/127\.0\.0\.1:\d+ \(unhealthy, 127\.0\.0\.1\)\n\[1\] DIRECT\n/);
  });
});

describe.skipIf(!hasTinyproxy())('the agent with tinyproxy (Debian) as its upstream', () => {
  it('probes health_check_url through tinyproxy and reports it healthy, then unhealthy once it is gone', async () => {
    const origin = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    try {
      const tp = await startTinyproxy();
      const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/healthz`;
      const agent = await startInProcessAgent({ config: { proxy: { http_proxy: `${tp.url};DIRECT`, health_check_url: url, healthy_check_rate: 0.1, unhealthy_check_rate: 0.1 } } });
      const row = async () => (await agent.rpc<HealthRow[]>('proxy.health')).find((x) => x.proxy === tp.url)!;
      await waitFor('a probe through tinyproxy', async () => (await row()).last_check !== null);
      expect(await row()).toMatchObject({ state: 'healthy', failures: 0 });
      expect(tp.log()).toContain('/healthz');
      await tp.stop();
      await waitFor('tinyproxy unhealthy and the list on DIRECT', async () => (await agent.rpc<ProxyInfo>('proxy.info')).active_proxy === 'DIRECT');
      expect((await row()).state).toBe('unhealthy');
    } finally {
      await new Promise<void>((r) => origin.close(() => r()));
    }
  });
});
