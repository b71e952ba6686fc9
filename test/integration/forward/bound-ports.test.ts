import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppSummary } from '../../../src/forward/commands.js';
import { DataProxyClient } from '../../../src/deploy/data-proxy/client.js';
import { boundPorts } from '../../helpers/app-ports.js';
import { FAKE } from '../../helpers/controller.js';
import { roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { closeForwards, ENGINES, startForward } from './harness.js';

/**
 * `ports: [0]`: the kernel picks, and everything that names an app's port
 * names the one it picked (app info, app list, the forward API services use,
 * service.endpoint), never the configured 0.
 */

afterEach(async () => {
  await closeForwards();
  await closeInProcessAgents();
  await closeTestServers();
});

describe.each(ENGINES)('ports the kernel picked, %s engine', (engine) => {
  it('app info and the forward API give the bound ports in config order, and they serve', async () => {
    const e = await startEchoServer();
    const f = await startForward(engine, { apps: [{ name: 'web', ports: [0, 0], bind: '127.0.0.1', targets: [e.address] }] });
    const ports = f.info('web').ports;
    expect(ports.map((p) => [p.port, p.state])).toEqual([[0, 'listening'], [0, 'listening']]);
    const [p1, p2] = ports.map((p) => p.bound_port!) as [number, number];
    expect(p1).toBeGreaterThan(0);
    expect(p2).not.toBe(p1);
    expect(f.fwd.listening('web')).toEqual([{ host: '127.0.0.1', port: p1 }, { host: '127.0.0.1', port: p2 }]);
    expect(f.fwd.listening('nope')).toEqual([]);
    for (const p of [p1, p2]) expect((await roundTrip(p, `via ${p}`)).toString()).toBe(`via ${p}`);
  });

  it('queues as many connections as max_connections before accepting them (the kernel caps it at somaxconn)', async () => {
    const e = await startEchoServer();
    const f = await startForward(engine, { apps: [{ name: 'small', ports: [0], targets: [e.address], max_connections: 100 }, { name: 'big', ports: [0], targets: [e.address], max_connections: 100_000 }] });
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    // ss shows a listening socket's backlog as its Send-Q.
    const backlog = (port: number) => Number(execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split(/\s+/)[2]);
    expect(backlog(f.port('small'))).toBe(100);
    expect(backlog(f.port('big'))).toBe(Math.min(100_000, somaxconn));
  });

  it('leaves a port that could not be opened out of the API, and keeps the others', async () => {
    const busy = await startEchoServer();
    const f = await startForward(engine, { apps: [{ name: 'web', ports: [busy.port, 0], bind: '127.0.0.1', targets: [busy.address] }] }, { allowPartial: true });
    const [taken, picked] = f.info('web').ports;
    expect(taken).toMatchObject({ port: busy.port, bound_port: null, state: 'error' });
    expect(f.fwd.listening('web')).toEqual([{ host: '127.0.0.1', port: picked!.bound_port }]);
  });
});

describe('ports the kernel picked (real agent)', () => {
  it('app list and service.endpoint name the bound port, and the endpoint answers', async () => {
    const agent = await startInProcessAgent({
      config: {
        apps: [{ name: 'web', ports: [0], balance: 'random' }],
        services: [{ name: 'svc', app: 'web', command: [process.execPath, FAKE], ready: { kind: 'jsonrpc', path: '/rpc' }, ready_attempts: 100, ready_interval: 0.1, drain: 0, stop_timeout: 5 }],
      },
    });
    const [port] = await boundPorts(agent, 'web');
    expect((await agent.rpc<AppSummary[]>('app.list')).find((a) => a.name === 'web')!.ports).toEqual([port]);
    const endpoint = await agent.rpc<{ service: string; app: string; url: string }>('service.endpoint', { service: 'svc' });
    expect(endpoint).toEqual({ service: 'svc', app: 'web', url: `http://127.0.0.1:${port}/rpc` });
    // through the app to the instance, once it is ready
    const client = new DataProxyClient(endpoint.url, { timeoutMs: 2000 });
    try {
      await waitFor('the instance ready behind the app', async () => (await client.ready().catch(() => null))?.ready === true);
    } finally {
      await client.close();
    }
  });
});
