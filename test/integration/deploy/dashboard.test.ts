import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { BIN, cleanupAgents, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { closeTerminals, hasTmux, openTerminal } from '../../helpers/tmux.js';
import { waitFor } from '../../helpers/wait.js';

const agents: InProcessAgent[] = [];

afterEach(async () => {
  await closeTerminals();
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await closeInProcessAgents();
  await cleanupAgents();
});

describe.skipIf(!hasTmux)('proxyctl dashboard in a terminal (tmux)', () => {
  it('shows the service, asks before deploying it on "d", deploys on "y", shows the new version and the events, and restores the terminal on "q"', async () => {
    const port = await freePort();
    const agent = await startInProcessAgent({
      logLevel: 'info',
      config: {
        apps: [{ name: 'notes', ports: [port], balance: 'random' }],
        services: [{ name: 'notes', app: 'notes', command: [process.execPath, BIN, 'data-proxy', '--db', join(tempDir(), 'db')], ready: { kind: 'jsonrpc' }, ready_attempts: 100, ready_interval: 0.1, drain: 0.5 }],
      },
    });
    agents.push(agent);
    await waitFor('first deploy', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).state === 'READY', { timeoutMs: 30_000 });

    const cmd = `PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' dashboard; echo "DASHBOARD EXIT $?"; sleep 600`;
    const t = await openTerminal('dash', cmd, { cols: 160, rows: 50 });
    const first = await t.waitScreen('dashboard with v1', (s) => /notes\s+READY\s+ok\s+v1 \(/.test(s), { timeoutMs: 20_000 });
    expect(first).toMatch(/SHARDS[\s\S]*APPS[\s\S]*notes\s+\d+\s+1\/1/);

    // d asks first; anything but y says no.
    await t.keys('d');
    await t.waitScreen('question', (s) => s.includes('deploy notes v1 -> new version? [y/N]'));
    await t.keys('n');
    await t.waitScreen('cancelled', (s) => s.includes('deploy of notes cancelled'));
    expect((await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).deploys).toHaveLength(1);

    await t.keys('d');
    await t.waitScreen('question again', (s) => s.includes('[y/N]'));
    await t.keys('y');
    await t.waitScreen('deploy message', (s) => s.includes('deploy 2 of notes: started, v1 -> v2'), { timeoutMs: 20_000 });
    await t.waitScreen('v2 current on screen', (s) => /notes\s+READY\s+ok\s+v2 \(/.test(s), { timeoutMs: 30_000 });
    expect((await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!.version).toBe(2);
    // The events pane showed the deploy as it went.
    expect(await t.screen()).toMatch(/EVENTS[\s\S]*deploy\.phase notes: deploy 2 v1 -> v2 READY succeeded/);

    await t.keys('q');
    const after = await t.waitScreen('dashboard exited', (s) => s.includes('DASHBOARD EXIT'));
    expect(after).toContain('DASHBOARD EXIT 0');
    // Back on the normal screen: the dashboard's frame is gone with the alternate screen.
    expect(after).not.toContain('SERVICES');
  });
});

describe('proxyctl dashboard without a terminal', () => {
  it('refuses to run and points at stats --json', async () => {
    const agent = await startInProcessAgent();
    agents.push(agent);
    const r = await agent.cli(['dashboard']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs a terminal[\s\S]*proxyctl stats --json/);
  });
});
