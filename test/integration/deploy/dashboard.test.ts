import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { BIN, cleanupAgents, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { waitFor } from '../../helpers/wait.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const agents: InProcessAgent[] = [];
const sessions: string[] = [];

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (s: string) => tmux('capture-pane', '-p', '-t', s);

afterEach(async () => {
  for (const s of sessions.splice(0)) spawnSync('tmux', ['kill-session', '-t', s]);
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

    const session = `pxc-dash-${process.pid}`;
    sessions.push(session);
    const cmd = `PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' dashboard; echo "DASHBOARD EXIT $?"; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', cmd);
    await waitFor('dashboard with v1', () => /notes\s+READY\s+ok\s+v1 \(/.test(screen(session)), { timeoutMs: 20_000 });
    expect(screen(session)).toMatch(/SHARDS[\s\S]*APPS[\s\S]*notes\s+\d+\s+1\/1/);

    // d asks first; anything but y says no.
    tmux('send-keys', '-t', session, 'd');
    await waitFor('question', () => screen(session).includes('deploy notes v1 -> new version? [y/N]'));
    tmux('send-keys', '-t', session, 'n');
    await waitFor('cancelled', () => screen(session).includes('deploy of notes cancelled'));
    expect((await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).deploys).toHaveLength(1);

    tmux('send-keys', '-t', session, 'd');
    await waitFor('question again', () => screen(session).includes('[y/N]'));
    tmux('send-keys', '-t', session, 'y');
    await waitFor('deploy message', () => screen(session).includes('deploy 2 of notes started: v1 -> v2'), { timeoutMs: 20_000 });
    await waitFor('v2 current on screen', () => /notes\s+READY\s+ok\s+v2 \(/.test(screen(session)), { timeoutMs: 30_000 });
    expect((await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!.version).toBe(2);
    // The events pane showed the deploy as it went.
    expect(screen(session)).toMatch(/EVENTS[\s\S]*deploy\.phase notes: deploy 2 v1 -> v2 READY succeeded/);

    tmux('send-keys', '-t', session, 'q');
    const after = await waitFor('dashboard exited', () => {
      const s = screen(session);
      return s.includes('DASHBOARD EXIT') ? s : null;
    });
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
