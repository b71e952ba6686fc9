import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { DataProxyClient } from '../../../src/deploy/data-proxy/client.js';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { waitFor } from '../../helpers/wait.js';
import { alive } from '../../helpers/controller.js';
import { notesConfig, notesPort, notesReady, startNotes } from './notes-service.js';

/** An instance killed with SIGKILL, and the agent itself killed with SIGKILL (a spawned one: the process is what dies). */

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('crashes around the notes service', () => {
  it('restarts an instance killed with SIGKILL: the exit, the restart and its count in service info, logged', async () => {
    const { config } = await notesConfig();
    const agent = await startNotes(config);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    process.kill(v1.pid!, 'SIGKILL');
    const info = await waitFor('restarted', async () => {
      const i = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
      return i.restarts === 1 && i.current?.state === 'ready' ? i : null;
    }, { timeoutMs: 20_000 });
    expect(info).toMatchObject({ health: 'ok', version: 1, current: { version: 1, restarts: 1 }, degraded_reason: null });
    expect(info.current!.pid).not.toBe(v1.pid);
    expect(alive(v1.pid!)).toBe(false);
    await waitFor('logged', () => /service notes degraded: notes@v1 \(current\) exited on its own.*killed by SIGKILL\); restart 1 of at most 16 in a row/.test(agent.stderr()) && /notes@v1 restarted/.test(agent.stderr()));
    const text = await agent.cliInProcess(['service', 'info', 'notes']);
    expect(text.stdout).toMatch(/restarts\s+1 \(restart on-failure, max_restarts 16, restart_delay 0.1 s\)/);
    expect((await agent.talk('service info notes')).split('\n')[0]).toMatch(/^service notes \(app notes\): READY, ok, v1, 1\/1 ready, 1 restart/);
    // Serving again through the app.
    const client = new DataProxyClient(`http://127.0.0.1:${await notesPort(agent)}/rpc`);
    try {
      expect((await client.createNote('back', 'again')).title).toBe('back');
    } finally {
      client.close();
    }
  });

  it('leaves no data proxy behind when the agent itself is killed with SIGKILL (the instance notices and stops)', async () => {
    const { config } = await notesConfig();
    const agent = await startAgent({ config, logLevel: 'info' });
    await notesReady(agent);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    await agent.kill9();
    await waitFor('orphaned data proxy gone', () => !alive(v1.pid!), { timeoutMs: 10_000 });
    // A new agent on the same config serves the same notes DB with its own instance.
    const again = await startNotes(config);
    const client = new DataProxyClient(`http://127.0.0.1:${await notesPort(again)}/rpc`);
    try {
      expect(await client.listNotes()).toEqual([]);
    } finally {
      client.close();
    }
    expect((await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).current?.pid).not.toBe(v1.pid);
  });
});
