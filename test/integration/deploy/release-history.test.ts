import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { waitFor } from '../../helpers/wait.js';
import { notesConfig, startNotes } from './notes-service.js';

/** History and rollback across an agent restart. */

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('release history', () => {
  it('keeps the history across an agent restart, brings back the version that served, and rolls back to the previous one', async () => {
    const { config } = await notesConfig({ drain: 0 });
    const agent = await startNotes(config);
    expect((await agent.cliInProcess(['deploy', 'notes', '--wait'])).code).toBe(0);
    expect(await agent.stop()).toEqual([]);
    const again = await startInProcessAgent({ config, stateDir: agent.stateDir, logLevel: 'info' });
    await waitFor('started', async () => (await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).state === 'READY', { timeoutMs: 30_000 });
    expect(await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ version: 2, previous_version: 1 });
    const h = await again.cliInProcess(['service', 'history', 'notes']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^3\s+start\s+v2 -> v2\s+succeeded/m);
    expect(h.stdout).toMatch(/^2\s+deploy\s+v1 -> v2\s+succeeded/m);
    expect(h.stdout).toMatch(/^1\s+start\s+v- -> v1\s+succeeded/m);
    expect(h.stdout).toMatch(/^v2\s+current\s/m);
    expect(h.stdout).toMatch(/^v1\s+previous\s/m);
    const rb = await again.cliInProcess(['deploy', 'notes', '--rollback', '--wait', '--json']);
    expect(rb.code).toBe(0);
    expect(JSON.parse(rb.stdout)).toMatchObject({ kind: 'rollback', version: 3, from_version: 2, result: 'succeeded' });
    const json = JSON.parse((await again.cliInProcess(['service', 'history', 'notes', '--json'])).stdout);
    expect(json.releases.at(-1)).toMatchObject({ version: 3, source: 'rollback', rollback_of: 1 });
  });
});
