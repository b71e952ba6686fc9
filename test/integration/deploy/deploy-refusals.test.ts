import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { DataProxyClient } from '../../../src/deploy/data-proxy/client.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { notesConfig, notesPort, startNotes } from './notes-service.js';

/** A second deploy while one runs, and a version that never gets ready. */

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('deploys that cannot go ahead', () => {
  it('refuses a second deploy while one runs, at once', async () => {
    const { config } = await notesConfig({ drain: 30 });
    const agent = await startNotes(config);
    const first = await agent.cliInProcess(['deploy', 'notes']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/deploy 2 of notes: started, v1 -> v2/);
    const second = await agent.cliInProcess(['deploy', 'notes', '--json']);
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: { code: 'PXC_ERR_DEPLOY_IN_PROGRESS', message: expect.stringMatching(/deploy already in progress/) } });
    expect((await agent.talk('deploy notes')).trim()).toMatch(/^error: service notes: deploy already in progress/);
  });

  it('rolls back a version that never gets ready: the deploy fails, the current version keeps serving', async () => {
    const { config } = await notesConfig();
    const agent = await startNotes(config);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    // The next version probes a path the data proxy does not serve: never ready. The probes span
    // 5 s so that the last one reaches the instance however slowly it starts (and answers 404).
    const broken = structuredClone(config);
    Object.assign(broken.services[0]!, { ready: { kind: 'http', path: '/nowhere' }, ready_attempts: 25, ready_interval: 0.2 });
    agent.writeConfig(broken);
    expect((await agent.talk('reload')).trim()).toBe('OK');
    const r = await agent.cliInProcess(['deploy', 'notes', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deploy 2 of notes failed: notes@v2 never became ready: 25 http probes .* GET \/nowhere answered 404; notes@v1 keeps serving/);
    const info = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
    expect(info).toMatchObject({ state: 'READY', health: 'ok', current: { version: 1, pid: v1.pid }, previous: null, launching: null, last_deploy: { id: 2, result: 'failed' } });
    const client = new DataProxyClient(`http://127.0.0.1:${await notesPort(agent)}/rpc`);
    try {
      expect((await client.createNote('still', 'here')).title).toBe('still');
    } finally {
      client.close();
    }
  });
});
