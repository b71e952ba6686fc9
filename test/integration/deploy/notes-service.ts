import { join } from 'node:path';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import type { AppInfo } from '../../../src/forward/app.js';
import { BIN, tempDir } from '../../helpers/agent.js';
import { startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The notes app and its data-proxy service for the rolling-deploy tests (split
 * by behaviour into files that run in parallel): the agent in-process, its
 * instances real processes.
 */

/** The notes app and its data-proxy service, as examples/notes.json but on port 0 (service.endpoint names the bound one) and a temp DB. */
export async function notesConfig(over: Record<string, unknown> = {}) {
  const db = join(tempDir('pxc-notes-'), 'db');
  return {
    config: {
      apps: [{ name: 'notes', ports: [0], balance: 'random' }],
      services: [
        {
          name: 'notes',
          app: 'notes',
          command: [process.execPath, BIN, 'data-proxy', '--db', db, '--shards', '3'],
          ready: { kind: 'jsonrpc', path: '/rpc' },
          // 60 s to answer Ready, as in the fleet tests: 10 s was once not enough for a first data proxy
          // on a loaded 2-core box (a deadline, not a wait: the probe passes at the first Ready).
          ready_attempts: 600,
          ready_interval: 0.1,
          drain: 1,
          stop_timeout: 5,
          ...over,
        },
      ],
    },
  };
}

/** An in-process agent on `config`, once its first deploy is READY. */
export async function startNotes(config: unknown): Promise<InProcessAgent> {
  const agent = await startInProcessAgent({ config, logLevel: 'info' });
  await notesReady(agent);
  return agent;
}

export async function notesReady(agent: { rpc: InProcessAgent['rpc'] }): Promise<void> {
  await waitFor('first deploy', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).state === 'READY', { timeoutMs: 90_000 });
}

/** The port the notes app is bound to, as app info reports it. */
export async function notesPort(agent: { rpc: InProcessAgent['rpc'] }): Promise<number> {
  return (await agent.rpc<AppInfo>('app.info', { name: 'notes' })).ports[0]!.bound_port!;
}
