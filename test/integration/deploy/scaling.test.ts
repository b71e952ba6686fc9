import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { startNotesLoad } from '../../helpers/notes-load.js';
import { waitFor } from '../../helpers/wait.js';
import { notesConfig, startNotes } from './notes-service.js';

/** Scaling the notes service, and a deploy in batches of max_surge, while a client calls continuously: zero failed calls. */

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('scaling under load', () => {
  it('scales up and down, and rolls a deploy over 3 instances in batches of max_surge followed by events, under a client calling continuously, with zero failed calls', async () => {
    const { config } = await notesConfig({ max_surge: 2, drain: 0.5 });
    const agent = await startNotes(config);
    const endpoint = await agent.rpc<{ url: string }>('service.endpoint', { service: 'notes' });
    const load = startNotesLoad(endpoint.url);
    await waitFor('load running', () => load.report().calls > 20);
    const mark = async () => {
      const before = load.report().calls;
      await waitFor('calls go on', () => load.report().calls > before + 20);
    };

    const up = await agent.cliInProcess(['service', 'scale', 'notes', '3']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/scale \d+ of notes: to 3 instances[\s\S]*SCALING[\s\S]*READY[\s\S]*\nscale \d+ of notes: succeeded\n$/);
    expect(await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ ready: 3, scale: 3, health: 'ok' });
    await mark();

    const requests = async () => (await agent.rpc<any>('agent.stats')).control.requests.jsonrpc as number;
    const before = await requests();
    const d = await agent.cliInProcess(['deploy', 'notes', '--wait']);
    expect(d.code).toBe(0);
    // Followed by events: events.subscribe, service.deploy, one service.info for the final record (and the stats call);
    // polling service.info every 200 ms through two 0.5 s drains would make 8 or more.
    expect((await requests()) - before).toBeLessThanOrEqual(4);
    expect(d.stdout).toMatch(/ROLLOUT_LAUNCH_NEW \(batch 1\/2\)[\s\S]*ROLLOUT_WAIT \(batch 1\/2\)[\s\S]*ROLLOUT_LAUNCH_NEW \(batch 2\/2\)[\s\S]*READY/);
    const after = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
    expect(after.instances.map((i) => [i.instance, i.version, i.state])).toEqual([
      [0, 2, 'ready'],
      [1, 2, 'ready'],
      [2, 2, 'ready'],
    ]);
    await mark();

    const down = await agent.cliInProcess(['service', 'scale', 'notes', '1', '--json']);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ kind: 'scale', instances: 1, result: 'succeeded' });
    await mark();
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    const served = new Set(report.servedBy.map(([, pid]) => pid));
    for (const i of after.instances) expect(served.has(i.pid!), `v2 instance ${i.instance} (pid ${i.pid}) served`).toBe(true);
    expect(await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ ready: 1, scale: 1, instances: [{ instance: 0, version: 2 }] });
  });
});
