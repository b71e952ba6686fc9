import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { followOperation } from '../../../src/cli/follow-operation.js';
import { ControlClient } from '../../../src/control/client.js';
import { eventCommands } from '../../../src/control/event-commands.js';
import { EventBus } from '../../../src/control/events.js';
import { CommandRegistry, defineCommand } from '../../../src/control/registry.js';
import { ControlServer } from '../../../src/control/server.js';
import type { DeployRecord } from '../../../src/deploy/records.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';

/**
 * `deploy --wait` and the service operations follow an operation by its
 * deploy.phase events, and poll an agent from before events. A fake service
 * directory behind a real control server in this process.
 */

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
  await cleanupAgents();
});

async function serve(withEvents: boolean) {
  const registry = new CommandRegistry();
  const stats = new StatsRegistry();
  const bus = new EventBus();
  if (withEvents) registry.add(...eventCommands(bus));
  let infoCalls = 0;
  const record: DeployRecord = { id: 5, service: 'notes', kind: 'deploy', version: 2, from_version: 1, instances: 1, result: 'running', phases: [], started_at: new Date().toISOString(), finished_at: null, error: null };
  const phase = (state: string, result: DeployRecord['result'] = 'running') => {
    record.phases.push({ state: state as DeployRecord['phases'][number]['state'], at: new Date().toISOString() });
    record.result = result;
    bus.publish('deploy.phase', { service: 'notes', deploy: 5, kind: 'deploy', version: 2, from_version: 1, state, batch: null, result, error: null });
  };
  registry.add(
    defineCommand({
      method: 'service.deploy',
      talk: 'deploy',
      summary: 'fake',
      params: z.object({ service: z.string() }).strict(),
      handler: () => {
        setTimeout(() => phase('ROLLOUT_LAUNCH_NEW'), 20);
        setTimeout(() => phase('ROLLOUT_WAIT'), 300);
        setTimeout(() => phase('READY', 'succeeded'), 700);
        return { ...structuredClone(record), state: 'INITIAL' as const };
      },
    }),
    defineCommand({
      method: 'service.info',
      talk: 'service info',
      summary: 'fake',
      params: z.object({ service: z.string() }).strict(),
      handler: () => {
        infoCalls++;
        return { deploys: [structuredClone(record)] };
      },
    }),
  );
  const path = join(tempDir('pxc-follow-'), 'agent.sock');
  const server = new ControlServer(registry, stats, pino({ level: 'silent' }), { path, mode: 0o600, group: null, maxLine: 65536, idleTimeoutMs: 10_000, maxConnections: 8, events: bus });
  await server.listen();
  server.open();
  open.push(async () => {
    await server.close();
    bus.close();
    stats.close();
  });
  return { path, infoCalls: () => infoCalls };
}

async function follow(path: string) {
  const client = await ControlClient.connect(path);
  const phases: string[] = [];
  try {
    const done = await followOperation(client, () => client.call('service.deploy', { service: 'notes' }), { timeoutMs: 10_000, onPhase: (p) => phases.push(p.state) });
    return { done, phases };
  } finally {
    client.close();
  }
}

describe('following a service operation', () => {
  it('prints each phase from the events and reads the record once, at the end', async () => {
    const { path, infoCalls } = await serve(true);
    const { done, phases } = await follow(path);
    expect(phases).toEqual(['ROLLOUT_LAUNCH_NEW', 'ROLLOUT_WAIT', 'READY']);
    expect(done).toMatchObject({ id: 5, result: 'succeeded' });
    expect(infoCalls()).toBe(1);
  });

  it('polls an agent without events, and gets the same phases', async () => {
    const { path, infoCalls } = await serve(false);
    const { done, phases } = await follow(path);
    expect(phases).toEqual(['ROLLOUT_LAUNCH_NEW', 'ROLLOUT_WAIT', 'READY']);
    expect(done.result).toBe('succeeded');
    expect(infoCalls()).toBeGreaterThan(2);
  });
});
