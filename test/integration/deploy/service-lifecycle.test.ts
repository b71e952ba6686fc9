import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo, ServiceSummary } from '../../../src/deploy/controller.js';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { waitFor } from '../../helpers/wait.js';

const FAKE = resolve(import.meta.dirname, '../../helpers/fake-service.mjs');
const agents: InProcessAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await closeInProcessAgents();
  await cleanupAgents();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function config() {
  const [a, b] = [await freePort(), await freePort()];
  const svc = (name: string, app: string) => ({ name, app, command: ['{node}', FAKE], env: { FAKE_LABEL: name }, ready: { kind: 'jsonrpc' }, ready_attempts: 100, ready_interval: 0.1, drain: 0.2, stop_timeout: 2 });
  return {
    apps: [
      { name: 'web', ports: [a] },
      { name: 'api', ports: [b] },
    ],
    services: [svc('web', 'web')],
    svc,
  };
}

describe('services across reload and shutdown', () => {
  it('deploys a service added by a reload, stops one removed by a reload', async () => {
    const { svc, ...cfg } = await config();
    const agent = await startInProcessAgent({ config: cfg, logLevel: 'info' });
    agents.push(agent);
    await waitFor('web READY', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'web' })).state === 'READY');
    const web = (await agent.rpc<ServiceInfo>('service.info', { service: 'web' })).current!;

    agent.writeConfig({ ...cfg, services: [svc('api', 'api')] });
    expect((await agent.talk('reload')).trim()).toBe('OK');
    await waitFor('api READY', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'api' })).state === 'READY');
    await waitFor('web instance stopped', () => !alive(web.pid!));
    const list = await agent.rpc<ServiceSummary[]>('service.list');
    expect(list.map((s) => s.name)).toEqual(['api']);
    const r = await agent.cliInProcess(['service', 'info', 'web']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no service named "web" (services: api)');
  });

  it('names a deploy result the same way in service info, service list and deploy --wait ("succeeded")', async () => {
    const { svc, ...cfg } = await config();
    const agent = await startInProcessAgent({ config: cfg, logLevel: 'info' });
    agents.push(agent);
    await waitFor('web READY', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'web' })).state === 'READY');
    const info = await agent.cli(['service', 'info', 'web']);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^1\s+start\s+-\s+v1\s+succeeded\s/m);
    const list = await agent.cli(['service', 'list']);
    expect(list.stdout).toMatch(/\b1 start succeeded\b/);
  });

  it('stops every instance when the agent shuts down', async () => {
    const { svc, ...cfg } = await config();
    // Spawned: the instances' output goes to the agent process's stderr, which is what is checked here.
    const agent = await startAgent({ config: { ...cfg, services: [svc('web', 'web'), svc('api', 'api')] }, logLevel: 'info' });
    const pids = await waitFor('both READY', async () => {
      const list = await agent.rpc<ServiceSummary[]>('service.list');
      return list.every((s) => s.state === 'READY') ? list.map((s) => s.current!.pid!) : null;
    });
    expect(pids.every(alive)).toBe(true);
    expect(await agent.stop()).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(agent.stderr()).toMatch(/web@v1 \| fake-service: got SIGTERM/);
    expect(agent.stderr()).toMatch(/api@v1 \| fake-service: got SIGTERM/);
  });
});
